import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { UsageError } from '../../errors.js'

export interface Credentials {
  username: string
  password: string
  /** Where they came from, for messages: `--creds` or an auth file's path. */
  source: string
}

export interface CredentialOptions {
  /** `USER:PASS` from --creds: beats every file. */
  creds?: string
  /** One auth file to use instead of the usual search (REGISTRY_AUTH_FILE's role, as an option). */
  authFile?: string
  env?: NodeJS.ProcessEnv
  home?: string
  /** Told about what was skipped (credential helpers); the CLI shows it with --debug. */
  debug?: (message: string) => void
}

/** `USER:PASS`, split at the first colon (a password may contain colons, a user name may not). */
export function parseCreds(text: string, source = '--creds'): Credentials {
  const colon = text.indexOf(':')
  if (colon <= 0) throw new UsageError(`${source} takes USER:PASSWORD, e.g. --creds alice:s3cret`)
  return { username: text.slice(0, colon), password: text.slice(colon + 1), source }
}

/**
 * The auth files searched, in order, as podman and skopeo search them (containers-auth.json(5)):
 * $REGISTRY_AUTH_FILE, then ${XDG_RUNTIME_DIR}/containers/auth.json, then
 * ~/.config/containers/auth.json, then Docker's ~/.docker/config.json.
 */
export function authFileCandidates(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string[] {
  const files: string[] = []
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE)
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'))
  files.push(join(home, '.config', 'containers', 'auth.json'))
  files.push(join(home, '.docker', 'config.json'))
  return files
}

interface AuthFile {
  auths?: Record<string, { auth?: string }>
  credHelpers?: Record<string, string>
  credsStore?: string
}

/** Docker writes keys as URLs (`https://index.docker.io/v1/`); containers-auth.json as `host[:port][/path]`. */
function normaliseKey(key: string): string {
  let k = key.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '')
  k = k.replace(/\/v[12]$/, '')
  return k === 'index.docker.io' ? 'docker.io' : k
}

/** Keys that may hold credentials for `registry/repository`, most specific first (containers-auth.json allows namespaces). */
function keysFor(registry: string, repository: string): string[] {
  const parts = repository.split('/')
  const keys: string[] = []
  for (let i = parts.length; i > 0; i--) keys.push(`${registry}/${parts.slice(0, i).join('/')}`)
  keys.push(registry)
  return keys
}

/** Credentials for one file, or undefined when it has none for the registry (or cannot be read). */
function lookup(file: AuthFile, path: string, registry: string, repository: string, debug: (m: string) => void): Credentials | undefined {
  const auths = new Map(Object.entries(file.auths ?? {}).map(([k, v]) => [normaliseKey(k), v] as const))
  for (const key of keysFor(registry, repository)) {
    const entry = auths.get(key)
    if (entry?.auth === undefined || entry.auth === '') continue
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
    if (!decoded.includes(':')) throw new UsageError(`${path}: the auth entry for ${key} is not base64 of USER:PASSWORD`)
    return parseCreds(decoded, path)
  }
  const helper = file.credHelpers?.[registry] ?? file.credsStore
  if (helper !== undefined) debug(`${path}: credential helper "${helper}" for ${registry} is not supported; skipped (use --creds or an auths entry)`)
  return undefined
}

/**
 * Who to be at `registry`: --creds, else the first auth file (of authFileCandidates, or only
 * `authFile` when given) with an entry for it. Undefined means anonymous.
 */
export async function findCredentials(registry: string, repository: string, o: CredentialOptions = {}): Promise<Credentials | undefined> {
  if (o.creds !== undefined) return parseCreds(o.creds)
  const debug = o.debug ?? (() => undefined)
  const files = o.authFile !== undefined ? [o.authFile] : authFileCandidates(o.env, o.home)
  for (const path of files) {
    const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
      // A missing file is the common case; an explicitly named one must exist.
      if (err.code === 'ENOENT' && o.authFile === undefined) return undefined
      throw new UsageError(`cannot read the auth file ${path}: ${err.code ?? err.message}`)
    })
    if (text === undefined) continue
    let parsed: AuthFile
    try {
      parsed = JSON.parse(text) as AuthFile
    } catch {
      throw new UsageError(`the auth file ${path} is not valid JSON`)
    }
    const found = lookup(parsed, path, registry, repository, debug)
    if (found) return found
  }
  return undefined
}
