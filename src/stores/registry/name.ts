import { UsageError } from '../../errors.js'
import { parseDigest, type Digest } from '../../oci/digest.js'
import { parseReference } from '../../oci/reference.js'

/** An image in a registry, as `docker://HOST/REPO:TAG` or `docker://HOST/REPO@sha256:…` names it. */
export interface RegistryImageName {
  /** `host[:port]` as the user typed it: the key for auth files and certs.d directories. */
  registry: string
  /** Where the API lives: Docker Hub's API is not at docker.io. */
  endpoint: string
  repository: string
  tag?: string
  digest?: Digest
}

const dockerHub = 'docker.io'

/**
 * Parse the part after `docker://`. As skopeo and docker do, a name without a registry means
 * Docker Hub and a one-component Hub name lives under `library/`; a bare name means `:latest`.
 */
export function parseRegistryName(ref: string): RegistryImageName {
  const parsed = parseReference(ref)
  const registry = parsed.domain ?? dockerHub
  const repository = registry === dockerHub && !parsed.path.includes('/') ? `library/${parsed.path}` : parsed.path
  if (parsed.digest !== undefined && !parsed.digest.startsWith('sha256:')) throw new UsageError(`docker://${ref}: only sha256 digests are supported`)
  const digest = parsed.digest === undefined ? undefined : parseDigest(parsed.digest)
  const tag = parsed.tag ?? (digest === undefined ? 'latest' : undefined)
  return {
    registry, endpoint: registry === dockerHub ? 'registry-1.docker.io' : registry, repository,
    ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}),
  }
}

/** What a registry calls the image: the digest when there is one (it pins the content), else the tag. */
export function referenceOf(name: RegistryImageName): string {
  return name.digest ?? name.tag ?? 'latest'
}

export function formatRegistryName(name: RegistryImageName): string {
  return `${name.registry}/${name.repository}${name.tag !== undefined ? `:${name.tag}` : ''}${name.digest !== undefined ? `@${name.digest}` : ''}`
}

/** The host of `host[:port]` (brackets kept off an IPv6 literal). */
export function hostOf(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'))
  const colon = registry.lastIndexOf(':')
  return colon === -1 ? registry : registry.slice(0, colon)
}

/** 127.0.0.0/8, ::1 and localhost: where containerd and skopeo allow a registry to speak plain HTTP. */
export function isLoopback(registry: string): boolean {
  const host = hostOf(registry).toLowerCase()
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}
