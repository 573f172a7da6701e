import { UsageError } from '../errors.js'

/**
 * An image reference under the distribution/reference grammar (what docker, containerd and
 * ctr-remote accept):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path-component [ "/" path-component ]*   (at most 255 characters)
 *   domain     := host [ ":" port ]   host: DNS labels joined by ".", or [IPv6]
 *   path-component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest     := algorithm ":" hex   (sha256: 64 lowercase hex digits)
 *
 * The text is kept exactly as typed: the IPNS key a reference is published under is derived from
 * that text, so `alpine:3` and `docker.io/library/alpine:3` are different references here.
 */
export interface ImageReference {
  /** The reference as typed, never normalised. */
  readonly text: string
  /** The registry, `host[:port]`, when the first component names one. */
  readonly domain?: string
  /** The repository below the domain, e.g. `library/alpine`. */
  readonly path: string
  readonly tag?: string
  readonly digest?: string
}

/** A string that is not an image reference (or not one of the forms a command takes). */
export class ReferenceError extends UsageError {
  constructor(readonly input: string, readonly problem: string, expected: string) {
    super(`"${input}" is not an image reference: ${problem} (expected ${expected})`)
  }
}

const anyForm = '[HOST[:PORT]/]PATH[:TAG][@sha256:DIGEST], e.g. ghcr.io/org/app:1.0'
const taggedForm = 'NAME:TAG or NAME@sha256:<64 hex digits>, e.g. ghcr.io/org/app:1.0'

/** The Go library's NameTotalLengthMax: registries refuse longer repository names. */
const maxNameLength = 255

const pathComponent = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const domainLabel = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?'
const domainAndPort = new RegExp(`^(?:${domainLabel}(?:\\.${domainLabel})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`)
const tagPattern = /^\w[\w.-]{0,127}$/
const digestPattern = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
/** The algorithms go-digest registers, and the length of their lowercase hex. */
const digestHexLength: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 }

/**
 * Docker's rule for whether the first component is a registry: it has a `.` or `:`, is
 * `localhost`, or has upper case (which no path component may). Any such string the grammar
 * accepts splits the same way, so this only decides what `domain` and `path` hold.
 */
function namesRegistry(first: string): boolean {
  return /[.:[]/.test(first) || first === 'localhost' || first !== first.toLowerCase()
}

function componentProblem(component: string): string {
  if (component === '') return 'empty path component (a leading, trailing or doubled "/")'
  if (component !== component.toLowerCase() && pathComponent.test(component.toLowerCase())) return `repository path "${component}" must be lowercase`
  return `"${component}" is not a path component (lowercase letters and digits, joined by ".", "_", "__" or "-")`
}

function digestProblem(digest: string): string | undefined {
  if (!digestPattern.test(digest)) return `"${digest}" is not a digest (ALGORITHM:HEX, e.g. sha256:<64 hex digits>)`
  const [algorithm, hex] = digest.split(':') as [string, string]
  const length = digestHexLength[algorithm]
  if (length === undefined) return `digest algorithm "${algorithm}" is not supported (sha256, sha384 or sha512)`
  if (hex.length !== length || !/^[0-9a-f]+$/.test(hex)) return `digest "${digest}" must be ${algorithm}: followed by ${length} lowercase hex digits`
  return undefined
}

function parse(text: string, expected: string): ImageReference {
  const fail = (problem: string): never => { throw new ReferenceError(text, problem, expected) }
  if (text === '') fail('it is empty')
  const at = text.indexOf('@')
  const digest = at === -1 ? undefined : text.slice(at + 1)
  const nameAndTag = at === -1 ? text : text.slice(0, at)
  if (digest !== undefined) {
    const problem = digestProblem(digest)
    if (problem !== undefined) fail(problem)
  }
  // A colon after the last "/" starts the tag; one before it belongs to a registry port.
  const colon = nameAndTag.lastIndexOf(':')
  const hasTag = colon > nameAndTag.lastIndexOf('/')
  const name = hasTag ? nameAndTag.slice(0, colon) : nameAndTag
  const tag = hasTag ? nameAndTag.slice(colon + 1) : undefined
  if (tag !== undefined && !tagPattern.test(tag)) {
    fail(`tag "${tag}" must be 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`)
  }
  if (name === '') fail('it has no repository name')
  if (name.length > maxNameLength) fail(`the name is ${name.length} characters long, more than ${maxNameLength}`)
  const components = name.split('/')
  const first = components[0] as string
  const domain = components.length > 1 && namesRegistry(first) ? first : undefined
  if (domain !== undefined && !domainAndPort.test(domain)) fail(`"${domain}" is neither a registry HOST[:PORT] nor a path component`)
  const path = domain === undefined ? components : components.slice(1)
  for (const component of path) {
    if (!pathComponent.test(component)) fail(componentProblem(component))
  }
  return {
    text, path: path.join('/'),
    ...(domain !== undefined ? { domain } : {}), ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}),
  }
}

/** Parse any reference the grammar allows, with or without a tag or digest. */
export function parseReference(text: string): ImageReference {
  return parse(text, anyForm)
}

/**
 * Parse a reference that names one image: it carries a tag or a digest. Every reference
 * ipfs-push publishes has one (containerd always stores a tag), so a bare name cannot be pulled.
 */
export function parseTaggedReference(text: string): ImageReference {
  const ref = parse(text, taggedForm)
  if (ref.tag === undefined && ref.digest === undefined) throw new ReferenceError(text, 'a name alone names no image, it needs a tag or a digest', taggedForm)
  return ref
}
