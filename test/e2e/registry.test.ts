// Issue 14, part 2: a registry as an image location (docker://HOST/REPO:TAG), against CNCF
// distribution 2.8 with skopeo and containerd as the other clients. Everything listens on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cp, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { openRegistryImage } from '../../src/stores/registry/index.js'
import { OciLayout } from '../../src/stores/oci-layout.js'
import { copyImage } from '../../src/pull/copy.js'
import { hostPlatform } from '../../src/oci/platform.js'
import { ctr, runOk } from '../support/rig.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'
import { startRegistry, writeAuthFile, type TestRegistry } from '../support/registry.js'

let fx: Fixtures
let plain: TestRegistry
let tls: TestRegistry
let token: TestRegistry
/** fx.single's layout with the naming annotations taken off its index.json entry (see beforeAll). */
let bareLayout: string
/** The root CID ipfs-push prints for that layout. */
let layoutCid: string

const tmp = (prefix: string): Promise<string> => mkdtemp(join(tmpdir(), `ipcr-reg-${prefix}-`))

async function skopeo(args: string[]): Promise<string> {
  return (await runOk('skopeo', args, { timeoutMs: 120_000 })).stdout
}

/** Put fx.single into a registry as skopeo would. */
async function seed(reg: TestRegistry, repoTag: string): Promise<void> {
  const creds = reg.user ? ['--dest-creds', `${reg.user}:${reg.password}`] : []
  await skopeo(['copy', '--dest-tls-verify=false', ...creds, `oci:${fx.single.layout}:1`, `docker://${reg.host}/${repoTag}`])
}

/** A fresh ipcr state directory, so that `image ls --ipfs` shows only what this command did. */
async function freshRoot(): Promise<NodeJS.ProcessEnv> {
  return { IPCR_ROOT: await tmp('root') }
}

async function pushedRefs(env: NodeJS.ProcessEnv): Promise<unknown> {
  const r = await ipcr(['i', 'ls', '--ipfs', '--json'], { env })
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  ;[plain, tls, token] = await Promise.all([startRegistry('plain'), startRegistry('tls'), startRegistry('token')])
  // A registry tag names a manifest and nothing more; a layout's index.json entry also carries
  // naming annotations, which ipfs-push keeps in the root descriptor (and so in its CID). The
  // comparison is between the same image, so it is made against the layout without them.
  bareLayout = join(await tmp('layout'), 'single')
  await cp(fx.single.layout, bareLayout, { recursive: true })
  const index = JSON.parse(await readFile(join(bareLayout, 'index.json'), 'utf8')) as { manifests: Array<{ annotations?: unknown }> }
  for (const m of index.manifests) delete m.annotations
  await writeFile(join(bareLayout, 'index.json'), JSON.stringify(index))
  const r = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${bareLayout}`])
  expect(r.code, r.stderr).toBe(0)
  layoutCid = r.stdout.trim()
  expect(layoutCid).toMatch(/^bafkrei[a-z2-7]+$/)
  await Promise.all([seed(plain, 'x:1'), seed(tls, 'x:1'), seed(token, 'x:1')])
})

afterAll(async () => {
  await Promise.allSettled([plain?.stop(), tls?.stop(), token?.stop()])
})

describe('a registry as the source of ipfs-push', () => {
  it('plain HTTP on loopback: the same root CID as the OCI layout skopeo copied in', async () => {
    const r = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `docker://${plain.host}/x:1`])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(layoutCid)
  })

  it('TLS with basic auth from $REGISTRY_AUTH_FILE: the same root CID', async () => {
    const authFile = await writeAuthFile(join(await tmp('auth'), 'auth.json'), tls.host, tls.user, tls.password)
    const env = { REGISTRY_AUTH_FILE: authFile, NODE_EXTRA_CA_CERTS: tls.caPath as string }
    const r = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `docker://${tls.host}/x:1`], { env })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(layoutCid)
  })

  it('token auth (Bearer from the issuer, for --creds): the same root CID, and publishes the reference', async () => {
    const env = await freshRoot()
    const ref = `${token.host}/x:1`
    const r = await ipcr(['i', 'ipfs-push', '--estargz=false', '--creds', `${token.user}:${token.password}`, `docker://${ref}`], { env })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toBe(layoutCid)
    const listed = await pushedRefs(env) as Array<{ ref: string; root: string }>
    expect(listed.map((e) => [e.ref, e.root])).toEqual([[ref, layoutCid]])
  })

  it('trusts a CA from a certs.d-style directory (certDirs) and reads the manifest the tag names', async () => {
    const image = await openRegistryImage(`${tls.host}/x:1`, { certDirs: [tls.certsDir as string], creds: `${tls.user}:${tls.password}` })
    try {
      const root = await image.root()
      expect(root).toEqual({ mediaType: fx.single.root.mediaType, digest: fx.single.root.digest, size: fx.single.root.size })
    } finally {
      await image.close()
    }
  })
})

describe('a registry as a destination', () => {
  it('image copy ipfs:CID docker://: skopeo sees it, copies back the same blobs, and ctr pulls and runs it', async () => {
    const dest = `${plain.host}/y:1`
    const r = await ipcr(['i', 'copy', `ipfs:${layoutCid}`, `docker://${dest}`])
    expect(r.code, r.stderr).toBe(0)
    const inspected = JSON.parse(await skopeo(['inspect', '--tls-verify=false', `docker://${dest}`])) as { Digest: string; Layers: string[] }
    // The ipfs:// URLs ipfs-push added are dropped on the way in, which gives back the original manifest.
    expect(inspected.Digest).toBe(fx.single.root.digest)
    expect(inspected.Layers).toEqual(fx.single.manifests[0]?.layers.map((l) => l.digest))
    const back = join(await tmp('back'), 'layout')
    await skopeo(['copy', '--src-tls-verify=false', `docker://${dest}`, `oci:${back}:1`])
    expect((await readdir(join(back, 'blobs', 'sha256'))).sort()).toEqual((await readdir(join(fx.single.layout, 'blobs', 'sha256'))).sort())

    const pulled = await ctr(['images', 'pull', '--plain-http', dest])
    expect(pulled.code, pulled.stderr).toBe(0)
    try {
      const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', dest, `reg-${process.pid}`, '/bin/echo', 'pulled from a registry'])
      expect(out.code, out.stderr).toBe(0)
      expect(out.stdout.trim()).toBe('pulled from a registry')
    } finally {
      await ctr(['images', 'rm', dest])
    }
  })

  it('pushes to a token-auth registry in chunks, and by digest', async () => {
    const source = new OciLayout(fx.single.layout, '1')
    const proxy = await startProxy(token)
    const chunked = await openRegistryImage(`${proxy.host}/chunked:1`, { creds: `${token.user}:${token.password}`, chunkSize: 64 << 10 })
    try {
      await copyImage(source, chunked, { platforms: { all: false, only: [hostPlatform()] } })
    } finally {
      await chunked.close()
      await proxy.stop()
    }
    // The busybox layer is about a megabyte: many 64 KiB PATCHes, each accepted.
    const patches = proxy.seen.filter((s) => s.startsWith('PATCH /v2/chunked/blobs/uploads/'))
    expect(patches.length).toBeGreaterThan(4)
    expect(patches.every((s) => s.endsWith(' 202'))).toBe(true)
    const byDigest = `${token.host}/pinned@${fx.single.root.digest}`
    const r = await ipcr(['i', 'copy', '--creds', `${token.user}:${token.password}`, `oci-layout:${fx.single.layout}:1`, `docker://${byDigest}`])
    expect(r.code, r.stderr).toBe(0)
    for (const ref of [`${token.host}/chunked:1`, byDigest]) {
      const inspected = JSON.parse(await skopeo(['inspect', '--no-tags', '--tls-verify=false', '--creds', `${token.user}:${token.password}`, `docker://${ref}`])) as { Digest: string }
      expect(inspected.Digest).toBe(fx.single.root.digest)
    }
    const back = join(await tmp('chunked'), 'layout')
    await skopeo(['copy', '--src-tls-verify=false', '--src-creds', `${token.user}:${token.password}`, `docker://${token.host}/chunked:1`, `oci:${back}:1`])
    expect((await readdir(join(back, 'blobs', 'sha256'))).sort()).toEqual((await readdir(join(fx.single.layout, 'blobs', 'sha256'))).sort())
  })

  it('mounts a blob the registry holds in another repository instead of uploading it', async () => {
    const proxy = await startProxy(plain)
    try {
      const sink = await openRegistryImage(`${proxy.host}/mounted:1`, { mountFrom: 'x' })
      try {
        await copyImage(new OciLayout(fx.single.layout, '1'), sink, { platforms: { all: false, only: [hostPlatform()] } })
      } finally {
        await sink.close()
      }
      const uploads = proxy.seen.filter((s) => s.startsWith('POST /v2/mounted/blobs/uploads/'))
      expect(uploads.length).toBeGreaterThan(0)
      expect(uploads.every((s) => s.includes('mount=') && s.endsWith(' 201'))).toBe(true)
      expect(proxy.seen.filter((s) => s.startsWith('PATCH ') || s.startsWith('PUT /v2/mounted/blobs/'))).toEqual([])
      // image copy between two repositories of one registry mounts by itself: no blob goes through ipcr.
      const copied = await ipcr(['i', 'copy', `docker://${proxy.host}/x:1`, `docker://${proxy.host}/copied:1`])
      expect(copied.code, copied.stderr).toBe(0)
      const copyUploads = proxy.seen.filter((s) => s.startsWith('POST /v2/copied/blobs/uploads/'))
      expect(copyUploads.length).toBeGreaterThan(0)
      expect(copyUploads.every((s) => s.includes('mount=') && s.includes('from=x') && s.endsWith(' 201'))).toBe(true)
      expect(proxy.seen.filter((s) => s.startsWith('PATCH ') || s.startsWith('PUT /v2/copied/blobs/'))).toEqual([])
    } finally {
      await proxy.stop()
    }
  })
})

interface Proxy { host: string; seen: string[]; stop(): Promise<void> }

/**
 * A plain HTTP proxy in front of a test registry. `intercept` may answer a request itself
 * (return true) or change the registry's response body (the returned transform).
 */
async function startProxy(
  target: TestRegistry,
  intercept: (req: IncomingMessage, res: ServerResponse) => boolean | ((chunk: Buffer, offset: number) => Buffer) = () => false,
): Promise<Proxy> {
  const seen: string[] = []
  const upstream = new URL(target.url)
  const server: Server = createServer((req, res) => {
    const decision = intercept(req, res)
    if (decision === true) { seen.push(`${req.method} ${req.url} ${res.statusCode}`); req.resume(); return }
    const out = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (up) => {
      seen.push(`${req.method} ${req.url} ${up.statusCode}`)
      const headers = { ...up.headers }
      // Redirects and upload locations name the registry; keep the client talking to us.
      if (typeof headers.location === 'string') headers.location = headers.location.replace(target.url, '')
      res.writeHead(up.statusCode ?? 502, headers)
      if (typeof decision !== 'function') { up.pipe(res); return }
      let offset = 0
      up.on('data', (chunk: Buffer) => { res.write(decision(chunk, offset)); offset += chunk.byteLength })
      up.on('end', () => res.end())
    })
    out.on('error', () => res.destroy())
    req.pipe(out)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    host: `127.0.0.1:${port}`, seen,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

describe('bad input: one line naming the registry, a non-zero exit, nothing pushed or published', () => {
  async function expectRefused(args: string[], env: NodeJS.ProcessEnv, message: RegExp): Promise<void> {
    const r = await ipcr(['i', 'ipfs-push', '--estargz=false', ...args], { env })
    const line = expectCleanFailure(r)
    expect(line).toMatch(message)
    expect(await pushedRefs(env)).toEqual([])
  }

  it('wrong credentials in the auth file (basic auth)', async () => {
    const env = { ...await freshRoot(), NODE_EXTRA_CA_CERTS: tls.caPath as string, REGISTRY_AUTH_FILE: await writeAuthFile(join(await tmp('auth'), 'auth.json'), tls.host, tls.user, 'wrong') }
    await expectRefused([`docker://${tls.host}/x:1`], env, new RegExp(`authentication to ${tls.host} failed: .*refused the credentials of "${tls.user}"`))
  })

  it('wrong credentials (token auth), and none at all', async () => {
    const env = await freshRoot()
    await expectRefused(['--creds', `${token.user}:wrong`, `docker://${token.host}/x:1`], env, new RegExp(`authentication to ${token.host} failed: its token service .* refused the credentials`))
    await expectRefused([`docker://${token.host}/x:1`], env, new RegExp(`authentication to ${token.host} failed: it requires credentials`))
  })

  it('a layer with one byte flipped on the way: the message names the layer digest and the registry', async () => {
    const layer = fx.single.manifests[0]?.layers[0]?.digest as string
    const proxy = await startProxy(plain, (req) => req.method === 'GET' && req.url?.endsWith(layer) === true
      ? (chunk, offset) => { if (offset === 0 && chunk.length > 100) chunk[100] = (chunk[100] as number) ^ 0xff; return chunk }
      : false)
    try {
      await expectRefused([`docker://${proxy.host}/x:1`], await freshRoot(), new RegExp(`${layer} from ${proxy.host}/x: content digest is sha256:[0-9a-f]{64}, expected ${layer}`))
      expect(proxy.seen.some((s) => s.startsWith(`GET /v2/x/blobs/${layer} 200`))).toBe(true)
    } finally {
      await proxy.stop()
    }
  })

  it('an untrusted certificate: the message names the certs directory to put the CA in', async () => {
    const env = { ...await freshRoot(), REGISTRY_AUTH_FILE: await writeAuthFile(join(await tmp('auth'), 'auth.json'), tls.host, tls.user, tls.password) }
    await expectRefused([`docker://${tls.host}/x:1`], env, new RegExp(`the TLS certificate of ${tls.host} is not trusted .*/etc/containers/certs\\.d/${tls.host}/ca\\.crt`))
  })

  it('a manifest over 4 MiB is refused before it is read whole', async () => {
    const big = Buffer.alloc((4 << 20) + 1, ' ')
    const proxy = await startProxy(plain, (req, res) => {
      if (req.url !== '/v2/big/manifests/1') return false
      res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Content-Length': big.length }).end(big)
      return true
    })
    try {
      await expectRefused([`docker://${proxy.host}/big:1`], await freshRoot(), new RegExp(`${proxy.host}.* over the 4 MiB limit for an image manifest \\(raise the limit with --max-manifest-size\\)`))
    } finally {
      await proxy.stop()
    }
  })

  it('429 twice then 200: retried (honouring Retry-After) and pushed', async () => {
    let refusals = 0
    const proxy = await startProxy(plain, (req, res) => {
      if (req.method !== 'GET' || req.url !== '/v2/x/manifests/1' || refusals >= 2) return false
      refusals++
      res.writeHead(429, { 'Retry-After': '1', 'Content-Type': 'application/json' }).end('{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}')
      return true
    })
    try {
      const r = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `docker://${proxy.host}/x:1`])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout.trim()).toBe(layoutCid)
      expect(proxy.seen.filter((s) => s.startsWith('GET /v2/x/manifests/1 '))).toEqual(['GET /v2/x/manifests/1 429', 'GET /v2/x/manifests/1 429', 'GET /v2/x/manifests/1 200'])
    } finally {
      await proxy.stop()
    }
  })
})

