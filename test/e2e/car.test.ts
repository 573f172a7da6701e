// Air-gapped transport: `ipfs-push --car` writes a CARv1 with no IPFS daemon or store involved,
// `ipcr ipfs import` loads it into kubo (pinning every root), and the image pulls and runs with
// layer and config byte-identical to the source. `rpull --car` pulls straight from the file; a
// damaged CAR is refused naming the block, and imports nothing.
import { beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { ctr, ipfs, rigEnv, wipeContainerd } from '../support/rig.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'
import { uniqueImage, type UniqueImage } from '../support/unique-image.js'

let work: string
let img: UniqueImage
/** No kubo anywhere: IPFS_PATH names an empty directory, and the embedded store is a fresh one. */
let offline: NodeJS.ProcessEnv

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-car-e2e-'))
  img = await uniqueImage(join(work, 'layout'), `car-${process.pid}`)
  offline = { IPFS_PATH: join(work, 'no-ipfs'), IPCR_ROOT: join(work, 'no-store') }
  process.env.IPCR_ROOT = await mkdtemp(join(tmpdir(), 'ipcr-car-root-'))
})

/** A blob's bytes as containerd holds them (binary: not through the text helpers). */
function contentOf(digest: string): Buffer {
  const r = spawnSync('ctr', ['--address', rigEnv().CONTAINERD_ADDRESS, 'content', 'get', digest], { maxBuffer: 1 << 26 })
  expect(r.status, r.stderr.toString()).toBe(0)
  return r.stdout
}

describe('CAR files', () => {
  let root: string
  let car: string

  it('push --car needs no daemon, import loads it into kubo, and the pulled image runs with the source bytes', async () => {
    car = join(work, 'image.car')
    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--car', car, `oci-layout:${img.layout}`], { env: offline })
    expect(pushed.code, pushed.stderr).toBe(0)
    root = pushed.stdout.trim()
    expect(root).toMatch(/^bafkrei[a-z2-7]+$/)
    expect(pushed.stderr).toContain('no IPFS node is involved')
    await expect(stat(join(work, 'no-store'))).rejects.toThrow() // the embedded store was never opened
    // Nothing of it was in kubo before the import.
    expect((await ipfs(['block', 'stat', root], { timeoutMs: 10_000 })).code).not.toBe(0)

    const imported = await ipcr(['ipfs', 'import', car])
    expect(imported.code, imported.stderr).toBe(0)
    const roots = imported.stdout.trim().split('\n')
    expect(roots[0]).toBe(root)
    expect(roots).toHaveLength(1 + img.layers.length + 2) // root descriptor, layers, config, manifest
    const pins = (await ipfs(['pin', 'ls', '--type=recursive', '--quiet'])).stdout.split('\n')
    expect(pins).toEqual(expect.arrayContaining(roots))
    // Same CID as a push straight into kubo.
    expect((await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${img.layout}`])).stdout.trim()).toBe(root)

    await wipeContainerd()
    const pulled = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', root])
    expect(pulled.code, pulled.stderr).toBe(0)
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', root, `car-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(out.stdout, out.stderr).toBe(img.text)
    for (const blob of [...img.layers, img.config]) {
      const source = await readFile(join(img.layout, 'blobs', 'sha256', blob.digest.slice(7)))
      expect(Buffer.compare(contentOf(blob.digest), source), blob.digest).toBe(0)
    }
  })

  it('rpull --car pulls straight from the file, with no kubo, its first root by default', async () => {
    await wipeContainerd()
    const pulled = await ipcr(['i', 'rpull', '--car', car], { env: offline })
    expect(pulled.code, pulled.stderr).toBe(0)
    expect(pulled.stderr).toContain(`reading ${car}`)
    expect((await ctr(['images', 'ls', '-q'])).stdout.trim()).toBe(root)
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', root, `carpull-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(out.stdout, out.stderr).toBe(img.text)
  })

  it('a CAR with one flipped byte is refused naming the block: import stores nothing, rpull leaves nothing', async () => {
    // Flip a byte inside the 600 KB random file's data: it sits in a raw leaf of the unique layer.
    const bytes = await readFile(car)
    const layer = await readFile(join(img.layout, 'blobs', 'sha256', (img.layers[1] as { digest: string }).digest.slice(7)))
    const at = bytes.indexOf(layer.subarray(300_000, 300_064))
    expect(at).toBeGreaterThan(0)
    bytes[at + 5] = (bytes[at + 5] as number) ^ 0xff
    const bad = join(work, 'bad.car')
    await writeFile(bad, bytes)
    const leafCid = (await ipcr(['ipfs', 'cid', '-'], { input: layer.subarray(262_144, 524_288) })).stdout.trim()

    const fresh = { IPFS_PATH: join(work, 'no-ipfs'), IPCR_ROOT: await mkdtemp(join(tmpdir(), 'ipcr-car-emb-')) }
    const refused = expectCleanFailure(await ipcr(['ipfs', 'import', bad], { env: fresh }))
    expect(refused).toContain(`block ${leafCid}`)
    await expect(stat(join(fresh.IPCR_ROOT, 'blocks'))).rejects.toThrow()

    await wipeContainerd()
    const failed = expectCleanFailure(await ipcr(['i', 'rpull', '--car', bad], { env: offline }))
    expect(failed).toContain(`block ${leafCid}`)
    expect((await ctr(['images', 'ls', '-q'])).stdout.trim()).toBe('')
    expect((await ctr(['content', 'ls', '-q'])).stdout.trim()).toBe('')
  })
})
