// The pure parts of the registry backend: WWW-Authenticate parsing, where credentials come from,
// and when a request is tried again.
import { describe, expect, it } from 'vitest'
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseChallenges } from '../../src/stores/registry/challenge.js'
import { authFileCandidates, findCredentials } from '../../src/stores/registry/credentials.js'
import { isRetryableError, isRetryableStatus, parseRetryAfter, retryDelay } from '../../src/stores/registry/retry.js'
import { isLoopback, parseRegistryName } from '../../src/stores/registry/name.js'
import { registryManifest } from '../../src/stores/registry/manifest-urls.js'
import { UsageError } from '../../src/errors.js'

describe('parseChallenges', () => {
  it('reads a Bearer challenge with quoted realm, service and scope', () => {
    expect(parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } },
    ])
  })

  it('keeps commas inside quotes (a scope with two actions) and unescapes backslashes', () => {
    const [c] = parseChallenges('Bearer realm="http://127.0.0.1:1/token", scope="repository:a:pull,push", error="say \\"no\\""')
    expect(c?.params.scope).toBe('repository:a:pull,push')
    expect(c?.params.error).toBe('say "no"')
  })

  it('splits several challenges and takes unquoted values and any case', () => {
    expect(parseChallenges('Basic realm="Registry Realm", BEARER Realm=https://x/token,service=reg')).toEqual([
      { scheme: 'basic', params: { realm: 'Registry Realm' } },
      { scheme: 'bearer', params: { realm: 'https://x/token', service: 'reg' } },
    ])
  })

  it('gives nothing for an empty or garbled header rather than failing', () => {
    expect(parseChallenges('')).toEqual([])
    expect(parseChallenges('=,,"')).toEqual([])
  })
})

describe('findCredentials', () => {
  async function home(): Promise<string> {
    return mkdtemp(join(tmpdir(), 'ipcr-creds-'))
  }
  const auth = (user: string, pass: string): { auth: string } => ({ auth: Buffer.from(`${user}:${pass}`).toString('base64') })

  it('searches REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, ~/.config/containers, ~/.docker in that order', () => {
    expect(authFileCandidates({ REGISTRY_AUTH_FILE: '/a.json', XDG_RUNTIME_DIR: '/run/user/1' }, '/home/u')).toEqual([
      '/a.json', '/run/user/1/containers/auth.json', '/home/u/.config/containers/auth.json', '/home/u/.docker/config.json',
    ])
    expect(authFileCandidates({}, '/home/u')).toEqual(['/home/u/.config/containers/auth.json', '/home/u/.docker/config.json'])
  })

  it('--creds wins; otherwise the first file with an entry for the registry', async () => {
    const h = await home()
    const runtime = join(h, 'run')
    await mkdir(join(runtime, 'containers'), { recursive: true })
    await writeFile(join(runtime, 'containers', 'auth.json'), JSON.stringify({ auths: { 'other:5000': auth('o', 'p') } }))
    await mkdir(join(h, '.docker'), { recursive: true })
    await writeFile(join(h, '.docker', 'config.json'), JSON.stringify({ auths: { 'reg.example:5000': auth('docker', 'pw:with:colons') } }))
    const env = { XDG_RUNTIME_DIR: runtime }
    expect(await findCredentials('reg.example:5000', 'app', { env, home: h })).toEqual({ username: 'docker', password: 'pw:with:colons', source: join(h, '.docker', 'config.json') })
    expect(await findCredentials('reg.example:5000', 'app', { env, home: h, creds: 'cli:secret' })).toEqual({ username: 'cli', password: 'secret', source: '--creds' })
    expect(await findCredentials('nowhere.example', 'app', { env, home: h })).toBeUndefined()
  })

  it('prefers a namespaced entry, and reads Docker\'s URL-style keys', async () => {
    const h = await home()
    const file = join(h, 'auth.json')
    await writeFile(file, JSON.stringify({ auths: {
      'reg.example': auth('whole', 'x'), 'reg.example/team': auth('team', 'y'), 'https://index.docker.io/v1/': auth('hub', 'z'),
    } }))
    const env = { REGISTRY_AUTH_FILE: file }
    expect((await findCredentials('reg.example', 'team/app', { env, home: h }))?.username).toBe('team')
    expect((await findCredentials('reg.example', 'solo/app', { env, home: h }))?.username).toBe('whole')
    expect((await findCredentials('docker.io', 'library/alpine', { env, home: h }))?.username).toBe('hub')
  })

  it('skips a credential helper with a debug note, and refuses malformed --creds', async () => {
    const h = await home()
    const file = join(h, 'config.json')
    await writeFile(file, JSON.stringify({ credHelpers: { 'reg.example': 'ecr-login' } }))
    const notes: string[] = []
    expect(await findCredentials('reg.example', 'a', { env: { REGISTRY_AUTH_FILE: file }, home: h, debug: (m) => notes.push(m) })).toBeUndefined()
    expect(notes.join('\n')).toMatch(/credential helper "ecr-login" for reg\.example is not supported/)
    await expect(findCredentials('reg.example', 'a', { creds: 'no-colon' })).rejects.toBeInstanceOf(UsageError)
  })
})

describe('retry policy', () => {
  const policy = { attempts: 4, baseMs: 100, maxMs: 1000 }

  it('retries 429 and 5xx, never another 4xx', () => {
    for (const s of [429, 500, 502, 503, 504]) expect(isRetryableStatus(s)).toBe(true)
    for (const s of [400, 401, 403, 404, 405, 409, 416, 501, 505, 200, 201]) expect(isRetryableStatus(s)).toBe(false)
  })

  it('retries connection resets, not refused connections', () => {
    expect(isRetryableError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true)
    expect(isRetryableError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe(false)
    expect(isRetryableError(new Error('no code'))).toBe(false)
  })

  it('backs off exponentially, honours Retry-After within the cap, and stops after the last attempt', () => {
    expect([1, 2, 3].map((a) => retryDelay(a, policy))).toEqual([100, 200, 400])
    expect(retryDelay(4, policy)).toBeUndefined()
    expect(retryDelay(1, policy, 0)).toBe(0)
    expect(retryDelay(1, policy, 5000)).toBe(1000)
  })

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2024-01-01T00:00:00Z')
    expect(parseRetryAfter('3', now)).toBe(3000)
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:02 GMT', now)).toBe(2000)
    expect(parseRetryAfter('Sun, 31 Dec 2023 00:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
  })
})

describe('registry names', () => {
  it('splits host, repository and tag or digest; a bare Hub name is library/NAME:latest', () => {
    expect(parseRegistryName('127.0.0.1:5000/x:1')).toEqual({ registry: '127.0.0.1:5000', endpoint: '127.0.0.1:5000', repository: 'x', tag: '1' })
    expect(parseRegistryName('alpine')).toEqual({ registry: 'docker.io', endpoint: 'registry-1.docker.io', repository: 'library/alpine', tag: 'latest' })
    const digest = `sha256:${'a'.repeat(64)}`
    expect(parseRegistryName(`ghcr.io/o/app@${digest}`)).toEqual({ registry: 'ghcr.io', endpoint: 'ghcr.io', repository: 'o/app', digest })
  })

  it('knows loopback hosts', () => {
    for (const h of ['127.0.0.1:5000', '127.1.2.3', 'localhost:5000', '[::1]:5000']) expect(isLoopback(h)).toBe(true)
    for (const h of ['10.0.0.1:5000', 'registry.example', '[::2]:5000', '127.0.0.1.example']) expect(isLoopback(h)).toBe(false)
  })
})

describe('registryManifest', () => {
  const d = (n: string): string => `sha256:${n.repeat(64)}`
  it('drops ipfs:// URLs (a registry refuses them), keeps http ones, and leaves a clean manifest alone', () => {
    const m = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d('a'), size: 2, urls: ['ipfs://bafyconfig'] },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: d('b'), size: 3, urls: ['ipfs://bafylayer', 'https://mirror.example/b'] }] }
    const out = registryManifest(Buffer.from(JSON.stringify(m)), m.mediaType, new Map())
    const parsed = JSON.parse(Buffer.from(out as Uint8Array).toString()) as typeof m
    expect(parsed.config.urls).toBeUndefined()
    expect(parsed.layers[0]?.urls).toEqual(['https://mirror.example/b'])
    const clean = { ...m, config: { ...m.config, urls: undefined }, layers: [{ ...m.layers[0], urls: undefined }] }
    expect(registryManifest(Buffer.from(JSON.stringify(clean)), m.mediaType, new Map())).toBeUndefined()
  })

  it('points an index at the new digests of rewritten children', () => {
    const x = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('c'), size: 9, urls: ['ipfs://bafym'] }] }
    const moved = new Map([[d('c'), { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('e') as `sha256:${string}`, size: 7 }]])
    const out = JSON.parse(Buffer.from(registryManifest(Buffer.from(JSON.stringify(x)), x.mediaType, moved) as Uint8Array).toString()) as typeof x
    expect(out.manifests).toEqual([{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('e'), size: 7 }])
  })
})

describe('docker:// locations', () => {
  it('parse and format back, and refuse a malformed reference before anything is contacted', async () => {
    const { parseLocation, formatLocation } = await import('../../src/oci/location.js')
    const loc = parseLocation('docker://127.0.0.1:5000/team/app:1')
    expect(loc).toEqual({ kind: 'docker', ref: '127.0.0.1:5000/team/app:1' })
    expect(formatLocation(loc)).toBe('docker://127.0.0.1:5000/team/app:1')
    expect(() => parseLocation('docker://')).toThrow(UsageError)
    expect(() => parseLocation('docker://reg.example/Team/app:1')).toThrow(/must be lowercase/)
  })
})
