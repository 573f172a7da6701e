import { UsageError } from '../errors.js'
import { parseReference } from './reference.js'

/**
 * One syntax for every command (skopeo-like transports):
 *   NAME                       an image in containerd's image store, exactly as stored
 *   oci-layout:DIR[:TAG]       an OCI image layout directory
 *   docker-archive:FILE[:REF]  a `docker save` tarball (written as Docker 25+ writes one)
 *   ipfs:CID                   an IPFS-enabled image (root descriptor CID)
 *   docker://HOST/REPO:TAG     an image in a registry (also docker://HOST/REPO@sha256:DIGEST)
 */
export type ImageLocation =
  | { kind: 'containerd'; name: string }
  | { kind: 'oci-layout'; dir: string; tag?: string }
  | { kind: 'docker-archive'; file: string; ref?: string }
  | { kind: 'ipfs'; ref: string }
  | { kind: 'docker'; ref: string }

/** Split `PATH[:SUFFIX]`: a suffix has no `/`, so a path with a colon in a directory name still works. */
function splitSuffix(rest: string): [string, string | undefined] {
  const i = rest.lastIndexOf(':')
  if (i <= 0 || rest.slice(i + 1).includes('/')) return [rest, undefined]
  const suffix = rest.slice(i + 1)
  return [rest.slice(0, i), suffix === '' ? undefined : suffix]
}

export function parseLocation(text: string): ImageLocation {
  if (text.trim() === '') throw new UsageError('no image given')
  if (text.startsWith('oci-layout:')) {
    const [dir, tag] = splitSuffix(text.slice('oci-layout:'.length))
    if (dir === '') throw new UsageError(`"${text}": oci-layout needs a directory, e.g. oci-layout:./image:latest`)
    return tag === undefined ? { kind: 'oci-layout', dir } : { kind: 'oci-layout', dir, tag }
  }
  if (text.startsWith('docker-archive:')) {
    const rest = text.slice('docker-archive:'.length)
    // A reference may itself contain a colon (name:tag), so split at the first colon after the file name.
    const m = /^(.*?\.tar)(?::(.+))?$/.exec(rest)
    const [file, ref] = m ? [m[1] as string, m[2]] : [rest, undefined]
    if (file === '') throw new UsageError(`"${text}": docker-archive needs a file, e.g. docker-archive:./app.tar`)
    return ref === undefined ? { kind: 'docker-archive', file } : { kind: 'docker-archive', file, ref }
  }
  if (text.startsWith('ipfs:')) return { kind: 'ipfs', ref: text.slice('ipfs:'.length) }
  if (text.startsWith('docker://')) {
    const ref = text.slice('docker://'.length)
    if (ref === '') throw new UsageError(`"${text}": docker:// needs an image, e.g. docker://ghcr.io/org/app:1.0`)
    // Checked now, so a typo fails before any daemon or registry is contacted.
    parseReference(ref)
    return { kind: 'docker', ref }
  }
  return { kind: 'containerd', name: text }
}

export function formatLocation(loc: ImageLocation): string {
  switch (loc.kind) {
    case 'containerd': return loc.name
    case 'oci-layout': return `oci-layout:${loc.dir}${loc.tag ? `:${loc.tag}` : ''}`
    case 'docker-archive': return `docker-archive:${loc.file}${loc.ref ? `:${loc.ref}` : ''}`
    case 'ipfs': return `ipfs:${loc.ref}`
    case 'docker': return `docker://${loc.ref}`
  }
}
