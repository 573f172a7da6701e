// Issue 16, "Must show": pushes through `ipcr registry serve --allow-push` land in IPFS.
// 1. skopeo, `ctr images push` and crane each push a fixture into a registry over kubo node A of a
//    two-node private network; on node B, `ipcr i rpull --ipfs ceo/app:1` pulls it by its name and
//    `ipcr run` prints its file, and ctr-remote pulls the same image by the root CID the server logged.
// 2. skopeo reads ceo/app:1 back with the manifest digest it pushed.
// 3. Bad input: bytes that do not match their digest, a manifest naming a blob never uploaded, wrong
//    credentials, kill -9 in the middle of a chunked upload, kill -9 after a commit was answered but
//    before its IPFS add ended, and eight clients pushing one image at once.
// ipcr's CLI on B (rpull, run) and ctr-remote reach B's kubo from the root namespace, as
// test/e2e/ipns-network.test.ts does; containerd is the rig's, wiped between pulls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import http from 'node:http'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ipcr } from '../support/ipcr.js'
import { startIpcrServer, type IpcrServer } from '../support/ipcr-server.js'
import { ctr, ctrRemote, rigEnv, run, wipeContainerd, type RunResult } from '../support/rig.js'
import { kuboCluster, type Cluster, type ClusterNode } from '../support/cluster.js'
import { uniqueImage, type UniqueImage } from '../support/unique-image.js'

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`
const seconds = (t0: number): string => ((performance.now() - t0) / 1000).toFixed(2)

let fx: Fixtures
let work: string
let cluster: Cluster
let a: ClusterNode
let b: ClusterNode
/** The registry every test shares: --allow-push over node A's kubo. */
let registry: IpcrServer
const others: IpcrServer[] = []

/** `ipcr --ipfs-api <A> registry serve --allow-push` on a free loopback port, with `args` added. */
async function serve(args: readonly string[]): Promise<IpcrServer> {
  const s = await startIpcrServer(['--ipfs-api', a.api, 'registry', 'serve', '--listen', '127.0.0.1:0', '--allow-push', ...args])
  others.push(s)
  return s
}

interface Pushed { digest: string; root: string; ipnsName: string }

/** Every `pushed R:T (digest): IPFS root CID, published as /ipns/NAME` line the server logged for `ref`. */
function pushLines(srv: IpcrServer, ref: string): Pushed[] {
  const re = new RegExp(`^pushed ${ref.replace(/[/.]/g, '\\$&')} \\((sha256:[0-9a-f]{64})\\): IPFS root (\\S+), published as /ipns/(\\S+)$`, 'gm')
  return [...srv.stderr().matchAll(re)].map((m) => ({ digest: m[1] as string, root: m[2] as string, ipnsName: m[3] as string }))
}

function onePush(srv: IpcrServer, ref: string): Pushed {
  const lines = pushLines(srv, ref)
  expect(lines, srv.stderr()).toHaveLength(1)
  return lines[0] as Pushed
}

async function req(base: string, method: string, path: string, body?: Uint8Array, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: Buffer }> {
  const r = await fetch(new URL(path, base), { method, headers, ...(body ? { body } : {}) })
  return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) }
}

function errorCode(body: Buffer): string | undefined {
  return (JSON.parse(body.toString()) as { errors: Array<{ code: string }> }).errors[0]?.code
}

/** The pid of a node's kubo daemon: the `ipfs daemon` whose IPFS_PATH is the node's repo. */
async function kuboPid(node: ClusterNode): Promise<number> {
  for (const pid of (await readdir('/proc')).filter((n) => /^\d+$/.test(n))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
    if (!cmdline.split('\0').includes('daemon')) continue
    const environ = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '')
    if (environ.split('\0').includes(`IPFS_PATH=${node.ipfsPath}`)) return Number(pid)
  }
  throw new Error(`no ipfs daemon runs with IPFS_PATH=${node.ipfsPath}`)
}

/** How many blocks a kubo node holds. */
async function blockCount(node: ClusterNode): Promise<number> {
  const r = await node.ipfs(['refs', 'local'])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.split('\n').filter((l) => l !== '').length
}

/** The push history (`ipcr image ls --ipfs`) the servers write to, under this file's IPCR_ROOT. */
async function history(): Promise<Array<{ ref: string; root: string; ipnsName?: string }>> {
  const r = await ipcr(['i', 'ls', '--ipfs', '--json'])
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout) as Array<{ ref: string; root: string; ipnsName?: string }>
}

async function ipnsName(ref: string): Promise<string> {
  const r = await ipcr(['ipns', 'name', ref])
  expect(r.code, r.stderr).toBe(0)
  return r.stdout.trim()
}

/** What `node`'s kubo resolves /ipns/NAME to, bypassing its cache. */
async function resolveOn(node: ClusterNode, name: string): Promise<RunResult> {
  return node.ipfs(['name', 'resolve', '--nocache', `/ipns/${name}`], { timeoutMs: 90_000 })
}

function skopeoPush(src: string, dest: string, extra: readonly string[] = []): Promise<RunResult> {
  return run('skopeo', ['copy', '--dest-tls-verify=false', ...extra, `oci:${src}`, `docker://${dest}`], { timeoutMs: 180_000 })
}

/** containerd's record of an image: its target digest, or undefined when it has none. */
async function targetOf(name: string): Promise<string | undefined> {
  const ls = await ctr(['images', 'ls'])
  const line = ls.stdout.split('\n').find((l) => l.split(/\s+/)[0] === name)
  return line?.split(/\s+/).find((f) => f.startsWith('sha256:'))
}

/** The manifest digest an OCI layout's index.json names (one image). */
async function layoutDigest(layout: string): Promise<string> {
  const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }
  expect(index.manifests).toHaveLength(1)
  return index.manifests[0]?.digest as string
}

let u1: UniqueImage

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  work = await mkdtemp(join(tmpdir(), 'ipcr-registry-push-'))
  // The servers' push history, and `ipcr image ls --ipfs` reading it, live here.
  process.env.IPCR_ROOT = join(work, 'ipcr-root')
  u1 = await uniqueImage(join(work, 'u1'), `push-1-${process.pid}`)
  const t0 = performance.now()
  cluster = await kuboCluster(['a', 'b'])
  ;[a, b] = cluster.nodes as [ClusterNode, ClusterNode]
  registry = await serve(['--storage', join(work, 'storage')])
  console.log(`registry push: two-node network and registry up in ${seconds(t0)} s`)
})

afterAll(async () => {
  for (const s of others) await s.stop()
  await cluster?.destroy()
  if (work) await rm(work, { recursive: true, force: true })
})

describe('skopeo, ctr and crane push; node B pulls by name and by root CID', () => {
  const pushed: Record<string, Pushed> = {}
  let skopeoDigest: string

  beforeAll(async () => {
    await wipeContainerd()
    const imported = await ctr(['images', 'import', fx.single.tar])
    expect(imported.code, imported.stderr).toBe(0)
  })

  it('each client\'s push is kept as pushed and becomes an IPFS root published under R:T, which B resolves', async () => {
    const host = registry.host
    let t0 = performance.now()
    const digestFile = join(work, 'skopeo-digest')
    const bySkopeo = await skopeoPush(u1.layout, `${host}/ceo/app:1`, ['--digestfile', digestFile])
    expect(bySkopeo.code, bySkopeo.stderr).toBe(0)
    skopeoDigest = (await readFile(digestFile, 'utf8')).trim()
    const tSkopeo = seconds(t0)

    t0 = performance.now()
    const byCtr = await ctr(['images', 'push', '--plain-http', `${host}/ceo/app:2`, fx.single.name], { timeoutMs: 180_000 })
    expect(byCtr.code, byCtr.stderr + byCtr.stdout).toBe(0)
    const tCtr = seconds(t0)

    t0 = performance.now()
    const byCrane = await run(rigEnv().IPCR_RIG_CRANE, ['push', '--insecure', fx.multi.layout, `${host}/ceo/app:3`], { timeoutMs: 180_000 })
    expect(byCrane.code, byCrane.stderr).toBe(0)
    const tCrane = seconds(t0)
    console.log(`registry push: skopeo copy ${tSkopeo} s, ctr images push ${tCtr} s, crane push ${tCrane} s (each pushing and publishing to kubo A)`)

    // What each client pushed, by the digest it computed; crane prints the digest it pushed.
    expect(skopeoDigest).toBe(await layoutDigest(u1.layout))
    expect(byCrane.stdout.trim()).toBe(`${host}/ceo/app@${fx.multi.root.digest}`)
    const expected: Record<string, string> = { 1: skopeoDigest, 2: fx.single.root.digest, 3: fx.multi.root.digest }
    const listed = await history()
    for (const tag of ['1', '2', '3']) {
      const ref = `ceo/app:${tag}`
      const p = onePush(registry, ref)
      pushed[tag] = p
      expect(p.digest).toBe(expected[tag])
      expect(p.root).toMatch(/^baf/)
      // Published under the key derived from "R:T", as ipfs-push --ref R:T would.
      expect(p.ipnsName).toBe(await ipnsName(ref))
      // The tag serves the bytes as pushed.
      const got = await req(registry.url, 'GET', `/v2/ceo/app/manifests/${tag}`, undefined, { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' })
      expect(got.status).toBe(200)
      expect(sha256(got.body)).toBe(expected[tag])
      expect(got.headers.get('docker-content-digest')).toBe(expected[tag])
      // Entered in the push history, so `ipns republish --all` renews it.
      expect(listed.filter((e) => e.ref === ref).map((e) => e.root)).toEqual([p.root])
    }
    expect(new Set(Object.values(pushed).map((p) => p.root)).size).toBe(3)
    // The root is also the 201's Ipcr-Root-Cid: the manifest PUT again, as pushed, answers with the
    // same root and publishes nothing more.
    const asPushed = await req(registry.url, 'GET', `/v2/ceo/app/manifests/${skopeoDigest}`)
    const again = await req(registry.url, 'PUT', '/v2/ceo/app/manifests/1', asPushed.body, { 'content-type': asPushed.headers.get('content-type') as string })
    expect(again.status, again.body.toString()).toBe(201)
    expect(again.headers.get('ipcr-root-cid')).toBe(pushed['1']?.root)
    expect(pushLines(registry, 'ceo/app:1')).toHaveLength(1)

    // Node B, which never held a key, resolves each name to the root A's registry logged.
    const t1 = performance.now()
    for (const tag of ['1', '2', '3']) {
      const p = pushed[tag] as Pushed
      const r = await resolveOn(b, p.ipnsName)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout.trim()).toBe(`/ipfs/${p.root}`)
    }
    console.log(`registry push: node B resolved the three names in ${seconds(t1)} s`)
    expect((await b.ipfs(['key', 'list'])).stdout.split('\n')).not.toContain('ceo/app:1')
  })

  it('on node B, ipcr rpull --ipfs ceo/app:1 pulls it by name and ipcr run prints its file; ctr-remote pulls the same image by root CID', async () => {
    const p = pushed['1']
    if (!p) throw new Error('the skopeo push did not happen')
    await wipeContainerd()
    let t0 = performance.now()
    const pulled = await ipcr(['--ipfs-api', b.api, 'i', 'rpull', '--snapshotter=overlayfs', '--timeout', '120s', '--ipfs', 'ceo/app:1'], { timeoutMs: 180_000 })
    expect(pulled.code, pulled.stderr).toBe(0)
    const tPull = seconds(t0)
    expect((await ctr(['images', 'ls', '-q'])).stdout.split('\n')).toContain('ceo/app:1')
    const target = await targetOf('ceo/app:1')
    expect(target).toMatch(/^sha256:/)
    const out = await ipcr(['run', '--rm', '--snapshotter=overlayfs', 'ceo/app:1', `push-run-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(out.code, out.stderr).toBe(0)
    expect(out.stdout).toBe(u1.text)
    // B had the blocks from A over bitswap: nothing of this image was ever on B before.
    const ledger = await b.ipfs(['bitswap', 'ledger', a.peerId, '--enc=json'])
    expect(ledger.code, ledger.stderr).toBe(0)
    expect(Number((JSON.parse(ledger.stdout) as { Recv: number }).Recv)).toBeGreaterThan(600_000)

    // ctr-remote, with B's kubo (IPFS_PATH names B's repo and so its API), pulls the root the server
    // logged; the rig's own kubo is outside the private network and holds none of these blocks.
    await wipeContainerd()
    t0 = performance.now()
    const remote = await ctrRemote(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', p.root], { env: { IPFS_PATH: b.ipfsPath }, timeoutMs: 180_000 })
    expect(remote.code, remote.stderr + remote.stdout).toBe(0)
    const tRemote = seconds(t0)
    expect(await targetOf(p.root)).toBe(target)
    const again = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', p.root, `push-remote-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toBe(u1.text)
    console.log(`registry push: on node B, ipcr rpull --ipfs ceo/app:1 ${tPull} s, ctr-remote rpull --ipfs <root> ${tRemote} s`)
  })

  it('a skopeo pull of ceo/app:1 back from the registry gives the manifest digest skopeo pushed, and its blobs', async () => {
    const inspected = await run('skopeo', ['inspect', '--tls-verify=false', `docker://${registry.host}/ceo/app:1`])
    expect(inspected.code, inspected.stderr).toBe(0)
    expect((JSON.parse(inspected.stdout) as { Digest: string }).Digest).toBe(skopeoDigest)
    const dir = join(work, 'pulled-back')
    const copied = await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${registry.host}/ceo/app:1`, `oci:${dir}:x`], { timeoutMs: 180_000 })
    expect(copied.code, copied.stderr).toBe(0)
    expect(await layoutDigest(dir)).toBe(skopeoDigest)
    // Pushed without URLs, the layers are ordinary blobs: all came back, byte for byte.
    for (const d of [u1.config, ...u1.layers]) {
      const back = await readFile(join(dir, 'blobs', 'sha256', d.digest.slice(7)))
      expect(sha256(back)).toBe(d.digest)
    }
  })
})

describe('bad input', () => {
  const lie = sha256(Buffer.from(`not these bytes ${process.pid}`))
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [lie] }, n: process.pid }))

  it('bytes that do not match their digest: 400 DIGEST_INVALID, nothing kept, no block added to kubo', async () => {
    const bytes = randomBytes(300_000) // more than one 256 KiB block
    const before = await blockCount(a)
    // All at once (POST ?digest=)...
    const whole = await req(registry.url, 'POST', `/v2/ceo/bad/blobs/uploads/?digest=${lie}`, bytes, { 'content-type': 'application/octet-stream' })
    expect(whole.status).toBe(400)
    expect(errorCode(whole.body)).toBe('DIGEST_INVALID')
    // ...and in chunks, ended by a PUT naming the wrong digest.
    const started = await req(registry.url, 'POST', '/v2/ceo/bad/blobs/uploads/')
    expect(started.status).toBe(202)
    const location = started.headers.get('location') as string
    const chunk = await req(registry.url, 'PATCH', location, bytes.subarray(0, 200_000), { 'content-range': '0-199999', 'content-type': 'application/octet-stream' })
    expect(chunk.status).toBe(202)
    const end = await req(registry.url, 'PUT', `${location}?digest=${lie}`, bytes.subarray(200_000), { 'content-range': '200000-299999', 'content-type': 'application/octet-stream' })
    expect(end.status).toBe(400)
    expect(errorCode(end.body)).toBe('DIGEST_INVALID')
    // Neither the claimed nor the actual digest is a blob, here or anywhere in this registry
    // (a mount without `from` takes any blob the registry keeps: 202 means it keeps none).
    for (const d of [lie, sha256(bytes)]) {
      expect((await req(registry.url, 'HEAD', `/v2/ceo/bad/blobs/${d}`)).status).toBe(404)
      const mount = await req(registry.url, 'POST', `/v2/ceo/elsewhere/blobs/uploads/?mount=${d}`)
      expect(mount.status).toBe(202) // a new upload session, not a mounted blob: cancel it
      expect((await req(registry.url, 'DELETE', mount.headers.get('location') as string)).status).toBe(204)
    }
    expect((await req(registry.url, 'GET', location)).status).toBe(404) // the session is gone
    expect(await blockCount(a)).toBe(before)
  })

  it('a manifest naming a blob never uploaded: MANIFEST_BLOB_UNKNOWN, nothing tagged, no IPNS record', async () => {
    const cfg = await req(registry.url, 'POST', `/v2/ceo/bad/blobs/uploads/?digest=${sha256(config)}`, config, { 'content-type': 'application/octet-stream' })
    expect(cfg.status).toBe(201)
    const manifest = Buffer.from(JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      // The digest the failed uploads above claimed: never kept.
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: lie, size: 300_000 }],
    }))
    const put = await req(registry.url, 'PUT', '/v2/ceo/bad/manifests/1', manifest, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' })
    expect(put.status).toBe(404)
    expect(errorCode(put.body)).toBe('MANIFEST_BLOB_UNKNOWN')
    expect(put.body.toString()).toContain(lie)
    expect(put.headers.get('ipcr-root-cid')).toBeNull()
    expect((await req(registry.url, 'GET', '/v2/ceo/bad/manifests/1')).status).toBe(404)
    expect((await req(registry.url, 'GET', `/v2/ceo/bad/manifests/${sha256(manifest)}`)).status).toBe(404)
    // Nothing published: no log line, no history entry, no key imported into A, no record B can find.
    expect(pushLines(registry, 'ceo/bad:1')).toEqual([])
    expect((await history()).map((e) => e.ref)).not.toContain('ceo/bad:1')
    expect((await a.ipfs(['key', 'list'])).stdout.split('\n')).not.toContain('ceo/bad:1')
    const t0 = performance.now()
    const resolved = await b.ipfs(['name', 'resolve', '--nocache', '--dht-timeout=10s', `/ipns/${await ipnsName('ceo/bad:1')}`], { timeoutMs: 60_000 })
    expect(resolved.code, resolved.stdout).not.toBe(0)
    expect(resolved.stderr).toContain('could not resolve name')
    console.log(`registry push: resolving the name of the refused ceo/bad:1 on B failed after ${seconds(t0)} s, as it should`)
  })

  it('wrong credentials, with --htpasswd: 401 with a Basic challenge, and no block added to kubo', async () => {
    const file = join(work, 'htpasswd')
    const made = await run('htpasswd', ['-B', '-b', '-c', file, 'ceo', 's3cret'])
    expect(made.code, made.stderr).toBe(0)
    const guarded = await serve(['--storage', join(work, 'auth-storage'), '--htpasswd', file])
    const u2 = await uniqueImage(join(work, 'u2'), `push-auth-${process.pid}`)
    const before = await blockCount(a)

    // skopeo, refused: it learns the Basic scheme from the ping, sends the wrong password, gives up.
    const refused = await skopeoPush(u2.layout, `${guarded.host}/ceo/auth:1`, ['--dest-creds', 'ceo:wrong'])
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toMatch(/unauthorized|401/i)
    // The same by hand: with wrong credentials and with none, every write is a 401 with the challenge.
    const layer = await readFile(join(u2.layout, 'blobs', 'sha256', (u2.layers[1]?.digest as string).slice(7)))
    const wrong = `Basic ${Buffer.from('ceo:wrong').toString('base64')}`
    for (const headers of [{ authorization: wrong }, {}] as Array<Record<string, string>>) {
      for (const [method, path, body] of [
        ['POST', `/v2/ceo/auth/blobs/uploads/?digest=${sha256(layer)}`, layer],
        ['POST', '/v2/ceo/auth/blobs/uploads/', undefined],
        ['PUT', '/v2/ceo/auth/manifests/1', Buffer.from('{}')],
      ] as const) {
        const r = await req(guarded.url, method, path, body, headers)
        expect(r.status, `${method} ${path}`).toBe(401)
        expect(r.headers.get('www-authenticate')).toMatch(/^Basic realm="[^"]+"$/)
        expect(errorCode(r.body)).toBe('UNAUTHORIZED')
      }
    }
    expect(await blockCount(a)).toBe(before)
    expect((await req(guarded.url, 'HEAD', `/v2/ceo/auth/blobs/${sha256(layer)}`)).status).toBe(404)
    expect(guarded.stderr()).not.toMatch(/" 20[12] /)
    expect(pushLines(guarded, 'ceo/auth:1')).toEqual([])

    // The right password: the same push goes through, so the refusals above were about the credentials.
    const allowed = await skopeoPush(u2.layout, `${guarded.host}/ceo/auth:1`, ['--dest-creds', 'ceo:s3cret'])
    expect(allowed.code, allowed.stderr).toBe(0)
    expect(onePush(guarded, 'ceo/auth:1').digest).toBe(await layoutDigest(u2.layout))
    expect(await blockCount(a)).toBeGreaterThan(before)
  })

  it('kill -9 in the middle of a chunked upload: after a restart on the same --storage no partial blob is visible, and the retry succeeds', async () => {
    const storage = join(work, 'crash-storage')
    let srv = await serve(['--storage', storage])
    const MiB = 1 << 20
    const blob = randomBytes(6 * MiB)
    const digest = sha256(blob)
    const started = await req(srv.url, 'POST', '/v2/ceo/crash/blobs/uploads/')
    expect(started.status).toBe(202)
    const location = started.headers.get('location') as string
    for (let i = 0; i < 2; i++) {
      const r = await req(srv.url, 'PATCH', location, blob.subarray(i * MiB, (i + 1) * MiB), { 'content-range': `${i * MiB}-${(i + 1) * MiB - 1}`, 'content-type': 'application/octet-stream' })
      expect(r.status).toBe(202)
      expect(r.headers.get('range')).toBe(`0-${(i + 1) * MiB - 1}`)
    }
    // The third chunk: half of it sent, the rest never comes; the server is killed while it reads.
    const u = new URL(location, srv.url)
    const inFlight = http.request({
      host: u.hostname, port: u.port, path: u.pathname, method: 'PATCH',
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${2 * MiB}-${3 * MiB - 1}`, 'content-length': String(MiB) },
    })
    const ended = new Promise<void>((resolve) => { inFlight.on('error', () => resolve()); inFlight.on('response', () => resolve()) })
    inFlight.write(blob.subarray(2 * MiB, 2 * MiB + MiB / 2))
    const data = join(storage, 'uploads', location.split('/').pop() as string, 'data')
    const deadline = Date.now() + 10_000
    while ((await stat(data).then((s) => s.size, () => 0)) <= 2 * MiB) {
      if (Date.now() > deadline) throw new Error(`the server never wrote past 2 MiB of the upload (${data})`)
      await new Promise((r) => setTimeout(r, 20))
    }
    const blocksBefore = await blockCount(a)
    const exited = new Promise((resolve) => srv.proc.once('exit', resolve))
    srv.proc.kill('SIGKILL')
    await exited
    await ended
    expect(srv.proc.signalCode).toBe('SIGKILL')

    const t0 = performance.now()
    srv = await serve(['--storage', storage])
    // No partial blob anywhere: not in the repository, not mountable into another, not in kubo.
    expect((await req(srv.url, 'HEAD', `/v2/ceo/crash/blobs/${digest}`)).status).toBe(404)
    expect((await req(srv.url, 'GET', `/v2/ceo/crash/blobs/${digest}`)).status).toBe(404)
    const mount = await req(srv.url, 'POST', `/v2/ceo/other/blobs/uploads/?mount=${digest}`)
    expect(mount.status).toBe(202) // a new upload session, not a mounted blob: cancel it
    expect((await req(srv.url, 'DELETE', mount.headers.get('location') as string)).status).toBe(204)
    expect(await blockCount(a)).toBe(blocksBefore)

    // The session either resumes where the bytes on disk end, or is unknown; either way the client's retry succeeds.
    const status = await req(srv.url, 'GET', location)
    let how: string
    if (status.status === 204) {
      const range = /^0-(\d+)$/.exec(status.headers.get('range') ?? '')
      expect(range, `Range: ${status.headers.get('range')}`).not.toBeNull()
      const offset = Number(range?.[1]) + 1
      expect(offset).toBeGreaterThanOrEqual(2 * MiB)
      expect(offset).toBeLessThanOrEqual(2 * MiB + MiB / 2)
      const rest = await req(srv.url, 'PATCH', location, blob.subarray(offset), { 'content-range': `${offset}-${blob.length - 1}`, 'content-type': 'application/octet-stream' })
      expect(rest.status).toBe(202)
      const done = await req(srv.url, 'PUT', `${location}?digest=${digest}`)
      expect(done.status, done.body.toString()).toBe(201)
      how = `resumed at byte ${offset}`
    } else {
      expect(status.status).toBe(404)
      expect(errorCode(status.body)).toBe('BLOB_UPLOAD_UNKNOWN')
      const again = await req(srv.url, 'POST', '/v2/ceo/crash/blobs/uploads/')
      const loc = again.headers.get('location') as string
      expect((await req(srv.url, 'PATCH', loc, blob, { 'content-range': `0-${blob.length - 1}`, 'content-type': 'application/octet-stream' })).status).toBe(202)
      expect((await req(srv.url, 'PUT', `${loc}?digest=${digest}`)).status).toBe(201)
      how = 'started over (the session was unknown)'
    }
    const served = await req(srv.url, 'GET', `/v2/ceo/crash/blobs/${digest}`)
    expect(served.status).toBe(200)
    expect(served.body.equals(blob)).toBe(true)
    // Committed, the session's spool is gone.
    expect(await readdir(join(storage, 'uploads'))).toEqual([])

    // And a real client pushes an image through the restarted server.
    const u3 = await uniqueImage(join(work, 'u3'), `push-crash-${process.pid}`)
    const bySkopeo = await skopeoPush(u3.layout, `${srv.host}/ceo/crash:1`)
    expect(bySkopeo.code, bySkopeo.stderr).toBe(0)
    expect(onePush(srv, 'ceo/crash:1').digest).toBe(await layoutDigest(u3.layout))
    console.log(`registry push: after kill -9 mid-chunk and a restart, the upload ${how}; restart to a pushed image ${seconds(t0)} s`)
  })

  it('kill -9 after a blob commit was answered but before its IPFS add ended: the restart finishes the commit', async () => {
    const storage = join(work, 'sealed-storage')
    let srv = await serve(['--storage', storage])
    const blob = randomBytes(4 << 20)
    const digest = sha256(blob)
    // kubo frozen, so the add behind the commit's answer cannot end before the kill.
    const kubo = await kuboPid(a)
    process.kill(kubo, 'SIGSTOP')
    try {
      const put = await req(srv.url, 'POST', `/v2/ceo/sealed/blobs/uploads/?digest=${digest}`, blob, { 'content-type': 'application/octet-stream' })
      expect(put.status, put.body.toString()).toBe(201) // answered while kubo could not have stored a byte
      const sessions = await readdir(join(storage, 'uploads'))
      expect(sessions).toHaveLength(1)
      expect(JSON.parse(await readFile(join(storage, 'uploads', sessions[0] as string, 'sealed.json'), 'utf8'))).toEqual({ digest })
      const exited = new Promise((resolve) => srv.proc.once('exit', resolve))
      srv.proc.kill('SIGKILL')
      await exited
    } finally {
      process.kill(kubo, 'SIGCONT')
    }
    srv = await serve(['--storage', storage])
    const served = await req(srv.url, 'GET', `/v2/ceo/sealed/blobs/${digest}`)
    expect(served.status).toBe(200)
    expect(served.body.equals(blob)).toBe(true)
    expect(await readdir(join(storage, 'uploads'))).toEqual([])
  })

  it('eight skopeo copies of one image to ceo/app:8 at once all succeed, with one root that IPNS gives on A and on B', async () => {
    const u8 = await uniqueImage(join(work, 'u8'), `push-8-${process.pid}`)
    const digest = await layoutDigest(u8.layout)
    const t0 = performance.now()
    const copies = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      skopeoPush(u8.layout, `${registry.host}/ceo/app:8`, ['--digestfile', join(work, `digest-8-${i}`)])))
    const tAll = seconds(t0)
    for (const c of copies) expect(c.code, c.stderr).toBe(0)
    for (let i = 0; i < 8; i++) expect((await readFile(join(work, `digest-8-${i}`), 'utf8')).trim()).toBe(digest)
    // Every client's manifest PUT was taken...
    const puts = registry.stderr().split('\n').filter((l) => l.includes('"PUT /v2/ceo/app/manifests/8" '))
    expect(puts.map((l) => / (\d{3}) /.exec(l.slice(l.indexOf('manifests/8"')))?.[1])).toEqual(Array(8).fill('201'))
    // ...and they made one image, published once: the pushes of one tag take turns, and a push of
    // what the tag already names costs nothing more (without the turns, 503s and several publications).
    const lines = pushLines(registry, 'ceo/app:8')
    expect(lines, registry.stderr()).toHaveLength(1)
    expect(new Set(lines.map((l) => l.digest))).toEqual(new Set([digest]))
    const roots = new Set(lines.map((l) => l.root))
    expect(roots.size, registry.stderr()).toBe(1)
    const root = [...roots][0] as string
    expect((await history()).filter((e) => e.ref === 'ceo/app:8').map((e) => e.root)).toEqual([root])
    const name = await ipnsName('ceo/app:8')
    for (const node of [a, b]) {
      const r = await resolveOn(node, name)
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout.trim()).toBe(`/ipfs/${root}`)
    }
    // The tag serves what every client pushed.
    const got = await req(registry.url, 'GET', '/v2/ceo/app/manifests/8', undefined, { accept: 'application/vnd.oci.image.manifest.v1+json' })
    expect(sha256(got.body)).toBe(digest)
    console.log(`registry push: 8 concurrent skopeo copies of one image took ${tAll} s; one publication, root ${root}`)
  })
})
