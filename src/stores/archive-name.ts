import { parseReference } from '../oci/reference.js'

/** How one image name is spelled in the two indexes of a `docker save` archive. */
export interface ArchiveName {
  /** Fully qualified (docker.io/library/busybox:latest): index.json's io.containerd.image.name, what ctr import names the image. */
  imageName: string
  /** The tag alone: index.json's org.opencontainers.image.ref.name, the OCI layout convention. */
  refName?: string
  /** Docker's short form (busybox:latest) for manifest.json's RepoTags; none for a digest-only name, which docker load refuses as a tag. */
  repoTag?: string
}

/**
 * Spell `name` as Docker 25's `docker save` does: normalised in index.json, familiar in
 * manifest.json, a bare name tagged `latest`. Throws a UsageError for a malformed reference.
 */
export function archiveName(name: string): ArchiveName {
  const ref = parseReference(name)
  const domain = ref.domain === undefined || ref.domain === 'index.docker.io' ? 'docker.io' : ref.domain
  const path = domain === 'docker.io' && !ref.path.includes('/') ? `library/${ref.path}` : ref.path
  const tag = ref.tag ?? (ref.digest === undefined ? 'latest' : undefined)
  const imageName = `${domain}/${path}${tag !== undefined ? `:${tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`
  if (tag === undefined) return { imageName }
  const familiar = domain === 'docker.io' ? path.replace(/^library\/(?=[^/]+$)/, '') : `${domain}/${path}`
  return { imageName, refName: tag, repoTag: `${familiar}:${tag}` }
}
