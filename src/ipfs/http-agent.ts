import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { rootCertificates } from 'node:tls'

/** A keep-alive agent for `url`'s scheme, as the kubo and gateway clients use one per base URL. */
export function keepAliveAgent(url: string): http.Agent {
  const options = { keepAlive: true, maxSockets: 16 }
  if (!url.startsWith('https:')) return new http.Agent(options)
  const extra = extraCaCertificates()
  return new https.Agent(extra === undefined ? options : { ...options, ca: [...rootCertificates, extra] })
}

/**
 * The certificates a user added with NODE_EXTRA_CA_CERTS. bin/ipcr passes that path on as
 * IPCR_EXTRA_CA_CERTS, because Node 20 parses the file at every start-up otherwise, whether or not
 * anything uses TLS; here they are read only when an HTTPS agent is made. An unreadable file is
 * skipped with a warning, as Node itself does.
 */
function extraCaCertificates(): string | undefined {
  const file = process.env.IPCR_EXTRA_CA_CERTS
  if (!file) return undefined
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(err as Error).message}`)
    return undefined
  }
}
