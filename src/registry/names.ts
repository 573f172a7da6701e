import { cidText, parseCid, type CID } from '../ipfs/cid.js'
import { isDigest, type Digest } from '../oci/digest.js'
import { RegistryError } from './errors.js'

/**
 * What a repository name means here:
 * - `ipfs/<root CID>`: an IPFS-enabled image by its root (nerdctl's names), tag `latest`;
 * - `ipns/<name>`: the root an IPNS name points at, tag `latest`;
 * - anything else: an image reference `R` (or `HOST/R` when containerd, asking a mirror, says
 *   `?ns=HOST`), whose tags and digests resolve through the IPNS names ipfs-push derives from them.
 * Under `?ns=` every name is a reference: `docker.io/ipfs/x` is a Docker Hub image, not a CID.
 */
export type Repository =
  | { kind: 'cid'; name: string; cid: CID }
  | { kind: 'ipns'; name: string; ipns: string }
  | { kind: 'ref'; name: string; base: string }

/** A manifest reference: a tag or a digest. */
export type ManifestRef = { kind: 'tag'; tag: string } | { kind: 'digest'; digest: Digest }

/** The spec's repository name grammar (distribution-spec, "Pulling manifests"). */
const namePattern = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/
/** distribution's NameTotalLengthMax, which clients enforce too. */
const maxNameLength = 255
const tagPattern = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/
/** A registry host as containerd writes it into `ns`: DNS labels or an IP, an optional port. */
const hostPattern = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::\d{1,5})?$/
/** The spec's digest grammar: anything shaped like this is a digest, valid or not for us. */
const digestShape = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/

export function parseRepository(name: string, ns: string | null): Repository {
  if (name.length > maxNameLength || !namePattern.test(name)) {
    throw new RegistryError('NAME_INVALID', `"${clip(name)}" is not a repository name (lowercase path components, at most ${maxNameLength} characters)`)
  }
  if (ns !== null) {
    if (!hostPattern.test(ns)) throw new RegistryError('NAME_INVALID', `ns=${clip(ns)} is not a registry host`)
    return { kind: 'ref', name, base: `${ns}/${name}` }
  }
  const [first, second, ...rest] = name.split('/')
  if (first === 'ipfs' && second !== undefined) {
    if (rest.length > 0) throw new RegistryError('NAME_INVALID', `"${clip(name)}": expected ipfs/<root CID>`)
    let cid: CID
    try { cid = parseCid(second) } catch { throw new RegistryError('NAME_INVALID', `"${clip(second)}" in ipfs/<root CID> is not a CID`) }
    return { kind: 'cid', name, cid }
  }
  if (first === 'ipns' && second !== undefined && rest.length === 0) return { kind: 'ipns', name, ipns: second }
  return { kind: 'ref', name, base: name }
}

/** A tag, or a digest (only sha256 is served: any other valid algorithm is simply unknown here). */
export function parseManifestRef(text: string): ManifestRef {
  if (text.includes(':')) return { kind: 'digest', digest: parseRequestDigest(text, 'MANIFEST_UNKNOWN') }
  if (!tagPattern.test(text)) throw new RegistryError('MANIFEST_UNKNOWN', `"${clip(text)}" is neither a tag nor a digest`)
  return { kind: 'tag', tag: text }
}

/** A tag given alone (a `?tag=` parameter), checked against the spec's grammar (the spec has no tag error code). */
export function parseTag(text: string): string {
  if (!tagPattern.test(text)) throw new RegistryError('MANIFEST_INVALID', `tag "${clip(text)}" is not a tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})`)
  return text
}

/**
 * A digest in a URL: malformed is DIGEST_INVALID (400); well-formed with an algorithm other than
 * sha256 (the only one IPFS-enabled images use) names nothing we hold, so it is `unknown` (404).
 */
export function parseRequestDigest(text: string, unknown: 'MANIFEST_UNKNOWN' | 'BLOB_UNKNOWN'): Digest {
  if (isDigest(text)) return text
  const algorithm = text.slice(0, text.indexOf(':'))
  const lengths: Record<string, number> = { sha256: 64, sha512: 128 }
  const hex = text.slice(algorithm.length + 1)
  const valid = digestShape.test(text) && (lengths[algorithm] === undefined || (hex.length === lengths[algorithm] && /^[0-9a-f]+$/.test(hex)))
  if (!valid) throw new RegistryError('DIGEST_INVALID', { digest: clip(text) })
  throw new RegistryError(unknown, `${clip(text)}: only sha256 digests are served`)
}

/** The repository's name as logs and details show it. */
export function describeRepository(repo: Repository): string {
  return repo.kind === 'cid' ? `ipfs/${cidText(repo.cid)}` : repo.kind === 'ipns' ? `ipns/${repo.ipns}` : repo.base
}

/** Echoed input is cut short: a detail must not become whatever a client chose to send. */
function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}…` : text
}

/**
 * A repository a client may push to: any reference repository. `ipfs/<CID>` and `ipns/<name>`
 * name content by its address, which a push cannot change, and a mirror request (`?ns=`) is a pull.
 */
export function parseWritableRepository(name: string, ns: string | null): string {
  const repo = parseRepository(name, null)
  if (ns !== null) throw new RegistryError('DENIED', `ns=${clip(ns)}: a mirror request cannot push`)
  if (repo.kind !== 'ref') throw new RegistryError('DENIED', `${describeRepository(repo)} names content by its address; push to a repository of your own (e.g. org/app)`)
  return repo.base
}
