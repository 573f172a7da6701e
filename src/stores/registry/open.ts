import { defaultLimits } from '../../oci/limits.js'
import { RegistryClient } from './client.js'
import { findCredentials, parseCreds } from './credentials.js'
import { parseRegistryName } from './name.js'
import { RegistryImage } from './registry-image.js'
import type { RetryPolicy } from './retry.js'
import { loadRegistryTls } from './tls.js'
import { defaultChunkSize } from './upload.js'

/** How to reach a registry; every field optional, the defaults being skopeo's. */
export interface RegistryOptions {
  /** `USER:PASSWORD`; otherwise the auth files are searched. */
  creds?: string | undefined
  /** Use this auth file only, instead of the search (see credentials.ts). */
  authFile?: string | undefined
  /** false: accept any certificate, and plain HTTP from any host. Default true. */
  tlsVerify?: boolean | undefined
  /** Directories holding HOST[:PORT]/ CA and client certificates; default /etc/containers/certs.d, /etc/docker/certs.d. */
  certDirs?: readonly string[] | undefined
  signal?: AbortSignal | undefined
  /** A repository on the same registry to mount blobs from instead of uploading them. */
  mountFrom?: string | undefined
  /** The manifest limit (--max-manifest-size). */
  manifestSize?: number | undefined
  chunkSize?: number | undefined
  retry?: RetryPolicy | undefined
  /** Where notes for --debug go. */
  debug?: ((message: string) => void) | undefined
}

/** Open `docker://HOST/REPO:TAG` (given without the `docker://`) as an image source or sink. */
export async function openRegistryImage(ref: string, o: RegistryOptions = {}): Promise<RegistryImage> {
  const name = parseRegistryName(ref)
  // Bad --creds is a usage error before any connection is made.
  if (o.creds !== undefined) parseCreds(o.creds)
  const creds = await findCredentials(name.registry, name.repository, {
    ...(o.creds !== undefined ? { creds: o.creds } : {}), ...(o.authFile !== undefined ? { authFile: o.authFile } : {}), ...(o.debug ? { debug: o.debug } : {}),
  })
  if (creds) o.debug?.(`${name.registry}: using the credentials of "${creds.username}" from ${creds.source}`)
  const tls = await loadRegistryTls(name.registry, { ...(o.certDirs ? { certDirs: o.certDirs } : {}), ...(o.tlsVerify !== undefined ? { tlsVerify: o.tlsVerify } : {}) })
  const client = new RegistryClient(name.registry, name.endpoint, { creds, tls, ...(o.retry ? { retry: o.retry } : {}), signal: o.signal })
  return new RegistryImage(name, client, {
    manifestSize: o.manifestSize ?? defaultLimits.manifestSize,
    chunkSize: o.chunkSize ?? defaultChunkSize,
    mountFrom: o.mountFrom,
  })
}
