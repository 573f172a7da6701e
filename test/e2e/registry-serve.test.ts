// `ipcr registry serve` as users run it, against the rig's containerd, kubo and skopeo: images pushed
// with ipfs-push are pulled by ctr and skopeo through it (by root CID and by reference, as a mirror
// with ?ns=), give the manifest digest rpull records, and run (skopeo's oci: copy lacks the layers,
// which skopeo takes for foreign, and image copy fills them from IPFS); bad input gets the spec's answers
// with nothing committed in containerd; a corrupt block cuts the response; clients that hang up
// and 200 parallel requests leave it correct and small.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MT, OciLayoutWriter, prngBytes, tarBuffer, writeImage, writeLayer } from '../../src/testkit/index.js'
import { abortAfter, abortPoints } from '../support/abort-loop.js'
import { ipcr } from '../support/ipcr.js'
import { startIpcrServer, type IpcrServer } from '../support/ipcr-server.js'
import { ctr, run, wipeContainerd } from '../support/rig.js'
import { uniqueImage, type UniqueImage } from '../support/unique-image.js'

const tag = `t${process.pid}`
// A namespace of our own for images copied in by ipcr: nothing an earlier pull left can stand in for their blobs.
const ns = `ipcr-regserve-${randomBytes(4).toString('hex')}`
const ref = `ceo.test/org/app:${tag}`

type Served = IpcrServer

function serve(env: NodeJS.ProcessEnv = {}): Promise<Served> {
  return startIpcrServer(['registry', 'serve', '--listen', '127.0.0.1:0'], env)
}

/** containerd's record of an image: its target digest, or undefined when it has none. */
async function targetOf(name: string, namespace = 'default'): Promise<string | undefined> {
  const ls = await ctr(['-n', namespace, 'images', 'ls'])
  const line = ls.stdout.split('\n').find((l) => l.split(/\s+/)[0] === name)
  return line?.split(/\s+/).find((f) => f.startsWith('sha256:'))
}

let work: string
let img: UniqueImage
let root: string
let kubo: Served
let embedded: Served
let embeddedRoot: string
let embeddedEnv: NodeJS.ProcessEnv

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-registry-e2e-'))
  img = await uniqueImage(join(work, 'layout'), `registry-${process.pid}`)
  const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ref', ref, `oci-layout:${img.layout}`])
  expect(pushed.code, pushed.stderr).toBe(0)
  root = pushed.stdout.trim()
  kubo = await serve()
  embeddedEnv = { IPFS_PATH: join(work, 'no-ipfs'), IPCR_ROOT: join(work, 'store') }
  const pushedEmbedded = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${img.layout}`], { env: embeddedEnv })
  expect(pushedEmbedded.code, pushedEmbedded.stderr).toBe(0)
  embeddedRoot = pushedEmbedded.stdout.trim()
  embedded = await serve(embeddedEnv)
  expect(embedded.stderr()).toContain('embedded store')
  await wipeContainerd()
})

afterAll(async () => {
  await kubo?.stop()
  await embedded?.stop()
  for (const name of (await ctr(['-n', ns, 'images', 'ls', '-q'])).stdout.trim().split('\n').filter(Boolean)) await ctr(['-n', ns, 'images', 'rm', name])
})

describe('ipcr registry serve: clients pull from it', () => {
  it('ctr pulls ipfs/<CID>:latest with the digest rpull records, and the image runs', async () => {
    const name = `${kubo.host}/ipfs/${root}:latest`
    const pulled = await ctr(['images', 'pull', '--plain-http', '--snapshotter', 'overlayfs', name], { timeoutMs: 240_000 })
    expect(pulled.code, pulled.stderr + kubo.stderr()).toBe(0)
    const rpulled = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', root])
    expect(rpulled.code, rpulled.stderr).toBe(0)
    const viaRegistry = await targetOf(name)
    expect(viaRegistry).toMatch(/^sha256:/)
    expect(viaRegistry).toBe(await targetOf(root))
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', name, `regserve-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(out.stdout, out.stderr).toBe(img.text)
  })

  it('skopeo copies ipfs/<CID>:latest to oci: without the layers, and ipcr image copy fills them from IPFS into containerd, where the image runs', async () => {
    const target = await targetOf(root)
    expect(target).toMatch(/^sha256:/)
    const dir = join(work, 'skopeo-oci')
    const copied = await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${kubo.host}/ipfs/${root}:latest`, `oci:${dir}:x`], { timeoutMs: 240_000 })
    expect(copied.code, copied.stderr).toBe(0)
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }
    expect(index.manifests[0]?.digest).toBe(target)
    // containers/image treats a layer whose descriptor lists URLs as foreign, and an oci: destination
    // keeps foreign layers by reference: the manifest (the IPFS-enabled one, byte for byte) and the
    // config are there, the layers are not (skopeo has no flag to copy them).
    const blobs = await readdir(join(dir, 'blobs', 'sha256'))
    expect(blobs).toContain(img.config.digest.slice(7))
    expect(img.layers.map((l) => blobs.includes(l.digest.slice(7)))).toEqual(img.layers.map(() => false))

    // image-layout.md allows such a layout; ipcr reads each absent layer from its ipfs:// URL. A
    // containerd namespace of its own: no blob or snapshot of an earlier pull can stand in for them.
    const name = `ipcr.test/skopeo-thin:${tag}`
    const filled = await ipcr(['-n', ns, 'i', 'copy', `oci-layout:${dir}:x`, name])
    expect(filled.code, filled.stderr).toBe(0)
    const notices = filled.stderr.split('\n').filter((l) => /is not in oci-layout:\S+: reading it from ipfs:\/\/\w+, as its descriptor says$/.test(l))
    expect(notices, filled.stderr).toHaveLength(img.layers.length)
    console.log(`registry serve, skopeo: the oci: copy holds ${blobs.length} blobs (manifest, config, no layer); image copy read ${notices.length} layers from IPFS:\n${notices.join('\n')}`)
    const content = await ctr(['-n', ns, 'content', 'ls', '-q'])
    for (const l of img.layers) expect(content.stdout).toContain(l.digest)
    expect(await targetOf(name, ns)).toBe(target)
    const out = await ctr(['-n', ns, 'run', '--rm', '--snapshotter', 'overlayfs', name, `regserve-thin-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(out.stdout, out.stderr).toBe(img.text)
  })

  it('skopeo copies ipfs/<CID>:latest to dir: (no foreign layers there) with every layer blob and the same manifest bytes', async () => {
    const dir = join(work, 'skopeo-dir')
    const copied = await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${kubo.host}/ipfs/${root}:latest`, `dir:${dir}`], { timeoutMs: 240_000 })
    expect(copied.code, copied.stderr).toBe(0)
    const served = Buffer.from(await (await fetch(`${kubo.url}/v2/ipfs/${root}/manifests/latest`)).arrayBuffer())
    const manifest = await readFile(join(dir, 'manifest.json'))
    expect(manifest.equals(served)).toBe(true)
    expect(`sha256:${createHash('sha256').update(manifest).digest('hex')}`).toBe(await targetOf(root))
    // dir: names blobs by their hex digest; each one is the blob the manifest names.
    for (const d of [...img.layers, img.config]) {
      const blob = await readFile(join(dir, d.digest.slice(7)))
      expect(`sha256:${createHash('sha256').update(blob).digest('hex')}`).toBe(d.digest)
    }
    console.log(`registry serve, skopeo: the dir: copy holds ${img.layers.length} layers and the config, and the served manifest's ${manifest.byteLength} bytes unchanged`)
  })

  it('serves a reference as HOST/R:T in the path, as R:T?ns=HOST (a mirror request), and through ctr --hosts-dir', async () => {
    const target = await targetOf(root)
    expect(target).toMatch(/^sha256:/)
    const byPath = await ctr(['images', 'pull', '--plain-http', '--snapshotter', 'overlayfs', `${kubo.host}/${ref}`], { timeoutMs: 240_000 })
    expect(byPath.code, byPath.stderr + kubo.stderr()).toBe(0)
    expect(await targetOf(`${kubo.host}/${ref}`)).toBe(target)
    const mirror = await fetch(`${kubo.url}/v2/org/app/manifests/${tag}?ns=ceo.test`)
    expect(mirror.status).toBe(200)
    expect(mirror.headers.get('docker-content-digest')).toBe(target)
    await wipeContainerd() // so the mirror pull fetches every blob, through ?ns=
    const hosts = join(work, 'hosts')
    await mkdir(join(hosts, 'ceo.test'), { recursive: true })
    await writeFile(join(hosts, 'ceo.test', 'hosts.toml'), `server = "https://ceo.test"\n\n[host."${kubo.url}"]\n  capabilities = ["pull", "resolve"]\n`)
    const mirrored = await ctr(['images', 'pull', '--hosts-dir', hosts, '--snapshotter', 'overlayfs', ref], { timeoutMs: 240_000 })
    expect(mirrored.code, mirrored.stderr + kubo.stderr()).toBe(0)
    expect(await targetOf(ref)).toBe(target)
    expect(kubo.stderr()).toMatch(new RegExp(`"GET /v2/org/app/blobs/sha256:[0-9a-f]{64}\\?ns=ceo\\.test" 200`))
  })
})

describe('ipcr registry serve: bad input, answered by the spec', () => {
  async function errorOf(path: string, init: RequestInit = {}): Promise<{ status: number; code: string | undefined }> {
    const res = await fetch(`${kubo.url}${path}`, init)
    const body = JSON.parse(await res.text()) as { errors: Array<{ code: string }> }
    return { status: res.status, code: body.errors[0]?.code }
  }

  it('malformed names and digests, ranges past the end and unknown names, with nothing committed in containerd', async () => {
    expect(await errorOf('/v2/Bad_Name/manifests/latest')).toEqual({ status: 400, code: 'NAME_INVALID' })
    expect(await errorOf(`/v2/ipfs/${root}/blobs/sha256:1234`)).toEqual({ status: 400, code: 'DIGEST_INVALID' })
    const layer = img.layers[1]?.digest as string
    expect(await errorOf(`/v2/ipfs/${root}/blobs/${layer}`, { headers: { range: 'bytes=999999999-' } })).toEqual({ status: 416, code: 'RANGE_INVALID' })
    expect(await errorOf(`/v2/never/pushed/manifests/${tag}?ns=ceo.test`)).toEqual({ status: 404, code: 'MANIFEST_UNKNOWN' })
    const unknown = `${kubo.host}/never/pushed:${tag}`
    const failed = await ctr(['images', 'pull', '--plain-http', unknown])
    expect(failed.code).not.toBe(0)
    expect(await targetOf(unknown)).toBeUndefined()
    expect(kubo.stderr()).toMatch(new RegExp(`"HEAD /v2/never/pushed/manifests/${tag}" 404`))
  })

  it('cuts a blob whose IPFS block is corrupt, and ctr pull fails naming it', async () => {
    // Corrupt one leaf block of the unique layer in the embedded store (a multi-block file).
    const layer = img.layers[1]
    if (!layer) throw new Error('no unique layer')
    const blocks = join(embeddedEnv.IPCR_ROOT as string, 'blocks')
    const leaves: string[] = []
    for (const d of await readdir(blocks)) for (const f of await readdir(join(blocks, d))) if (f.startsWith('bafkrei')) leaves.push(join(blocks, d, f))
    const layerBytes = await fetch(`${embedded.url}/v2/ipfs/${embeddedRoot}/blobs/${layer.digest}`).then(async (r) => Buffer.from(await r.arrayBuffer()))
    expect(`sha256:${createHash('sha256').update(layerBytes).digest('hex')}`).toBe(layer.digest)
    const leaf = []
    for (const f of leaves) {
      const b = await readFile(f)
      if (b.byteLength === 262_144 && layerBytes.includes(b.subarray(0, 64))) leaf.push(f)
    }
    expect(leaf.length).toBeGreaterThan(0)
    const victim = leaf[0] as string
    const bytes = await readFile(victim)
    bytes[1000] = (bytes[1000] as number) ^ 0xff
    await writeFile(victim, bytes)

    const res = await fetch(`${embedded.url}/v2/ipfs/${embeddedRoot}/blobs/${layer.digest}`).then(async (r) => ({ status: r.status, ok: await r.arrayBuffer().then(() => true, () => false) }), () => ({ status: 0, ok: false }))
    expect(res.ok).toBe(false)
    const name = `${embedded.host}/ipfs/${embeddedRoot}:latest`
    await wipeContainerd() // the layer must not be in containerd's content store already
    const pulled = await ctr(['images', 'pull', '--plain-http', '--snapshotter', 'overlayfs', name], { timeoutMs: 240_000 })
    expect(pulled.code).not.toBe(0)
    expect(pulled.stderr + pulled.stdout).toContain(layer.digest.slice(7, 19))
    expect(await targetOf(name)).toBeUndefined()
    expect(embedded.stderr()).toMatch(/cut short.*does not match its CID/)
    bytes[1000] = (bytes[1000] as number) ^ 0xff
    await writeFile(victim, bytes)
  })
})

describe('ipcr registry serve: load and clients that hang up', () => {
  it('answers 200 parallel requests correctly and stays under 300 MiB', async () => {
    const layers = img.layers.map((l) => l.digest)
    const paths = Array.from({ length: 200 }, (_, i) => i % 4 === 0 ? `/v2/ipfs/${root}/manifests/latest` : `/v2/ipfs/${root}/blobs/${layers[i % layers.length]}`)
    let next = 0
    const results: string[] = []
    const worker = async (): Promise<void> => {
      for (let i = next++; i < paths.length; i = next++) {
        const res = await fetch(`${kubo.url}${paths[i]}`)
        const body = Buffer.from(await res.arrayBuffer())
        const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`
        results.push(res.status === 200 && digest === res.headers.get('docker-content-digest') ? 'ok' : `${paths[i]}: ${res.status} ${digest}`)
      }
    }
    await Promise.all(Array.from({ length: 200 }, worker))
    expect(results.filter((r) => r !== 'ok')).toEqual([])
    expect(results).toHaveLength(200)
    const status = await readFile(`/proc/${kubo.proc.pid}/status`, 'utf8')
    const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1])
    expect(hwm).toBeGreaterThan(0)
    expect(hwm * 1024).toBeLessThan(300 * 1024 * 1024)
  })

  it('survives 50 blob GETs aborted at seeded points (most mid-body), then answers correctly', async () => {
    // 24 MiB: far more than loopback socket buffers hold, so a client that stops reading leaves the server mid-write.
    const w = await new OciLayoutWriter(join(work, 'big')).init()
    const big = await writeLayer(w, await tarBuffer([{ path: 'big.bin', type: 'file', content: prngBytes(`registry-abort-${process.pid}`, 24 << 20) }]),
      { mediaType: MT.ociLayer, gzip: false, comment: 'big layer' })
    const image = await writeImage(w, { platform: { architecture: 'amd64', os: 'linux' }, layers: [big] })
    await w.writeIndex([{ name: `ipcr.test/registry-abort:${process.pid}`, descriptor: image.manifest }])
    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${w.dir}`], { env: embeddedEnv })
    expect(pushed.code, pushed.stderr).toBe(0)
    const layer = big.descriptor
    const path = `/v2/ipfs/${pushed.stdout.trim()}/blobs/${layer.digest}`
    for (const keep of abortPoints('registry-abort', layer.size, 50)) await abortAfter(embedded.url, path, keep)
    expect(embedded.proc.exitCode, embedded.stderr()).toBeNull()
    expect(embedded.stderr()).not.toMatch(/ERR_STREAM_PREMATURE_CLOSE|Unhandled|uncaught/i)
    const gone = embedded.stderr().split('\n').filter((l) => l.includes(`"GET ${path}" 200`) && l.includes('(the client went away)'))
    expect(gone.length, embedded.stderr()).toBeGreaterThanOrEqual(50 / 4)
    const res = await fetch(`${embedded.url}${path}`)
    const body = Buffer.from(await res.arrayBuffer())
    expect(`sha256:${createHash('sha256').update(body).digest('hex')}`).toBe(layer.digest)
  })

  it('stops on SIGTERM with exit code 0', async () => {
    expect(await embedded.stop()).toBe(0)
    expect(embedded.stderr()).toContain('SIGTERM: draining')
  })
})
