import { readFileSync } from 'node:fs'

/**
 * The certificates a user added with NODE_EXTRA_CA_CERTS. bin/ipcr passes that path on as
 * IPCR_EXTRA_CA_CERTS, because Node 20 parses the file at every start-up otherwise, whether or not
 * anything uses TLS; the HTTPS clients (kubo, gateways, registries) read it here when they need it.
 * An unreadable file is skipped with a warning, as Node itself does.
 */
export function extraCaCertificates(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = env.IPCR_EXTRA_CA_CERTS
  if (!file) return undefined
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}`)
    return undefined
  }
}
