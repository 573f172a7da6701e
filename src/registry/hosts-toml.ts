/**
 * containerd's registry host configuration (docs/hosts.md in containerd): one directory per
 * registry under the CRI plugin's `config_path` (or `ctr --hosts-dir`), named HOST[:PORT], holding
 * a hosts.toml. Ours makes ipcr's registry a pull-through mirror of an upstream:
 *
 *   server = "https://registry-1.docker.io"      the upstream, tried last
 *   [host."http://127.0.0.1:5050"]               ipcr's registry, tried first
 *     capabilities = ["pull", "resolve"]
 *
 * Pure text: nothing here touches the file system.
 */
import { UsageError } from '../errors.js'

/** Where `ipcr registry serve` listens unless told otherwise. */
export const DEFAULT_MIRROR = 'http://127.0.0.1:5050'

export interface HostsFile {
  /** The directory name containerd looks the registry up by: HOST or HOST:PORT. */
  dir: string
  /** `dir/hosts.toml`, relative to the hosts directory. */
  path: string
  text: string
}

const label = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?'
const hostPort = new RegExp(`^(?:${label}(?:\\.${label})*|\\[[a-fA-F0-9:]+\\])(?::([0-9]{1,5}))?$`)

/** The name docker.io goes by in references, and where its registry API actually is. */
const DOCKER_HUB = 'docker.io'
const DOCKER_HUB_SERVER = 'https://registry-1.docker.io'

function checkPort(port: string | undefined, what: string): void {
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw new UsageError(`${what}: port ${port} is out of range`)
}

/** A registry as references name it (HOST or HOST:PORT): its directory name and its server URL. */
export function upstreamOf(host: string): { dir: string; server: string } {
  const m = hostPort.exec(host)
  if (!m) throw new UsageError(`"${host}" is not a registry HOST[:PORT] (as in docker.io or registry.example.com:5000)`)
  checkPort(m[1], `"${host}"`)
  return { dir: host, server: host === DOCKER_HUB ? DOCKER_HUB_SERVER : `https://${host}` }
}

/** The mirror as http(s)://HOST[:PORT], with nothing after it (containerd adds /v2 itself). */
export function mirrorOrigin(mirror: string): string {
  let url: URL
  try {
    url = new URL(mirror)
  } catch {
    throw new UsageError(`--mirror "${mirror}" is not a URL (as in ${DEFAULT_MIRROR})`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--mirror "${mirror}" must be an http:// or https:// URL`)
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw new UsageError(`--mirror "${mirror}" must be only scheme, host and port (containerd appends /v2 itself)`)
  }
  return url.origin
}

const tomlString = (s: string): string => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`

/** The hosts.toml that sends pulls and resolves of `host` to `mirror` first, then to the upstream. */
export function hostsToml(host: string, mirror: string = DEFAULT_MIRROR): HostsFile {
  const { dir, server } = upstreamOf(host)
  const origin = mirrorOrigin(mirror)
  const text = [
    `# ${dir}: pulled through ipcr's registry first, then from the upstream (written by ipcr registry hosts).`,
    `server = ${tomlString(server)}`,
    '',
    // An http:// host is spoken to in plain HTTP; only pull and resolve, so a push never lands on
    // the mirror (ipcr's registry is read-only) but goes on to the server.
    `[host.${tomlString(origin)}]`,
    '  capabilities = ["pull", "resolve"]',
    '',
  ].join('\n')
  return { dir, path: `${dir}/hosts.toml`, text }
}

/** One file per host, in the order given; a host named twice is refused (two files, one path). */
export function hostsTomlFiles(hosts: readonly string[], mirror: string = DEFAULT_MIRROR): HostsFile[] {
  if (hosts.length === 0) throw new UsageError('name at least one registry HOST[:PORT]')
  const files = hosts.map((h) => hostsToml(h, mirror))
  const seen = new Set<string>()
  for (const f of files) {
    if (seen.has(f.dir)) throw new UsageError(`"${f.dir}" is named twice`)
    seen.add(f.dir)
  }
  return files
}
