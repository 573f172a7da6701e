import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { rootCertificates } from 'node:tls'
import { UsageError } from '../../errors.js'
import { extraCaCertificates } from '../../util/extra-ca.js'

/** Where podman/skopeo (containers-certs.d(5)) and docker look for a registry's CA and client certificate. */
export const defaultCertDirs: readonly string[] = ['/etc/containers/certs.d', '/etc/docker/certs.d']

/** What node:https needs to talk to one registry. */
export interface RegistryTls {
  /** Extra trusted CAs with the system's: undefined means the system's alone. */
  ca?: string[]
  cert?: string
  key?: string
  rejectUnauthorized: boolean
  /** The host's directory under the first cert dir: where an error tells the user to put a CA. */
  advisedDir: string
}

/**
 * Read `DIR/HOST[:PORT]/` under each cert dir: `*.crt` files are CAs trusted for this registry
 * (besides the system's), `NAME.cert` with `NAME.key` is a client certificate. A `.cert` without
 * its `.key` is a configuration mistake and reported, not silently ignored.
 */
export async function loadRegistryTls(registry: string, o: { certDirs?: readonly string[]; tlsVerify?: boolean } = {}): Promise<RegistryTls> {
  const dirs = o.certDirs ?? defaultCertDirs
  const ca: string[] = []
  let client: { cert: string; key: string } | undefined
  for (const base of dirs) {
    const dir = join(base, registry)
    const names = await readdir(dir).catch(() => [] as string[])
    for (const name of names.sort()) {
      if (name.endsWith('.crt')) ca.push(await readFile(join(dir, name), 'utf8'))
      if (name.endsWith('.cert') && client === undefined) {
        const keyName = `${name.slice(0, -'.cert'.length)}.key`
        if (!names.includes(keyName)) throw new UsageError(`${join(dir, name)} has no matching ${keyName}: a client certificate needs its key beside it`)
        client = { cert: await readFile(join(dir, name), 'utf8'), key: await readFile(join(dir, keyName), 'utf8') }
      }
    }
  }
  const userCa = extraCaCertificates()
  if (userCa !== undefined) ca.push(userCa)
  return {
    // Node's `ca` replaces the system store, so the system's roots go in with the extra ones.
    ...(ca.length > 0 ? { ca: [...rootCertificates, ...ca] } : {}),
    ...(client ?? {}),
    rejectUnauthorized: o.tlsVerify !== false,
    advisedDir: join(dirs[0] ?? defaultCertDirs[0] as string, registry),
  }
}


/** Node's codes for "the chain does not lead to a CA we trust" or "the certificate is not for this host". */
const untrustedCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED', 'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_SIGNATURE_FAILURE',
])

export function isUntrustedCertificate(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' && untrustedCodes.has(code)
}

/** The server answered a TLS hello in plain text: it speaks HTTP on that port. */
export function isPlainHttpAnswer(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined
  return e?.code === 'EPROTO' || /wrong version number|packet length too long|http request/i.test(e?.message ?? '')
}
