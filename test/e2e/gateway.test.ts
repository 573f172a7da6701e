// rpull through kubo's trustless gateway on loopback, with no kubo API configured: it pulls and runs.
// Through a proxy that flips one byte of one block it fails naming that block's CID and leaves
// containerd empty; with a good gateway listed after the bad one, it pulls.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { spawnSync } from 'node:child_process'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ctr, ipfs, rigEnv, wipeContainerd } from '../support/rig.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'
import { uniqueImage, type UniqueImage } from '../support/unique-image.js'

let img: UniqueImage
let root: string
let leaf: string
let proxy: http.Server | undefined
let proxyUrl: string
let flipped = 0
/** No kubo API anywhere: IPFS_PATH names an empty directory. */
let noKubo: NodeJS.ProcessEnv

/** Forwards to kubo's gateway, flipping one byte wherever the bytes of block `leaf` pass through. */
async function startProxy(target: string, leafBytes: Buffer): Promise<void> {
  const needle = leafBytes.subarray(4096, 4160)
  proxy = http.createServer((req, res) => {
    const up = http.get(`${target}${req.url ?? ''}`, { headers: { accept: req.headers.accept ?? '*/*' } }, (upRes) => {
      const chunks: Buffer[] = []
      upRes.on('data', (c: Buffer) => chunks.push(c))
      upRes.on('end', () => {
        const body = Buffer.concat(chunks)
        const at = body.indexOf(needle)
        if (at >= 0) { body[at + 7] = (body[at + 7] as number) ^ 0x20; flipped++ }
        const headers = { ...upRes.headers }
        delete headers['transfer-encoding']
        res.writeHead(upRes.statusCode ?? 502, { ...headers, 'content-length': body.length })
        res.end(body)
      })
    })
    up.on('error', () => res.destroy())
  })
  await new Promise<void>((r) => proxy?.listen(0, '127.0.0.1', () => r()))
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
}

beforeAll(async () => {
  const work = await mkdtemp(join(tmpdir(), 'ipcr-gw-e2e-'))
  img = await uniqueImage(join(work, 'layout'), `gw-${process.pid}`)
  noKubo = { IPFS_PATH: join(work, 'no-ipfs'), IPCR_ROOT: join(work, 'root') }
  const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', '--json', `oci-layout:${img.layout}`])
  expect(pushed.code, pushed.stderr).toBe(0)
  const result = JSON.parse(pushed.stdout) as { root: string; blobs: Array<{ digest: string; cid: string }> }
  root = result.root
  const layerCid = result.blobs.find((b) => b.digest === img.layers[1]?.digest)?.cid as string
  leaf = ((await ipfs(['refs', layerCid])).stdout.trim().split('\n'))[1] as string
  const leafBytes = spawnSync('ipfs', ['block', 'get', leaf], { env: process.env, maxBuffer: 1 << 24 }).stdout
  expect(leafBytes.length).toBe(262_144)
  await startProxy(rigEnv().IPCR_RIG_GATEWAY, leafBytes)
})

afterAll(async () => {
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()))
})

describe('rpull --gateway', () => {
  it('pulls through kubo\'s gateway with no kubo API configured, and the image runs', async () => {
    await wipeContainerd()
    const r = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--gateway', rigEnv().IPCR_RIG_GATEWAY, '--ipfs', root], { env: noKubo })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`using the trustless gateway ${rigEnv().IPCR_RIG_GATEWAY}`)
    expect(r.stderr).not.toMatch(/using kubo|pinned/)
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', root, `gw-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(out.stdout, out.stderr).toBe(img.text)
  })

  it('fails naming the CID when a gateway flips one byte of one block, leaving containerd empty', async () => {
    await wipeContainerd()
    const before = flipped
    const line = expectCleanFailure(await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--gateway', proxyUrl, '--ipfs', root], { env: noKubo }))
    expect(flipped).toBeGreaterThan(before)
    expect(line).toContain(`block ${leaf} from ${proxyUrl} does not match its CID`)
    expect((await ctr(['images', 'ls', '-q'])).stdout.trim()).toBe('')
    expect((await ctr(['content', 'ls', '-q'])).stdout.trim()).toBe('')
    expect((await ctr(['snapshots', '--snapshotter', 'overlayfs', 'ls'])).stdout.trim().split('\n')).toHaveLength(1) // the header line only
  })

  it('tries gateways in order: past the lying one to a good one', async () => {
    await wipeContainerd()
    const r = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--gateway', proxyUrl, '--gateway', rigEnv().IPCR_RIG_GATEWAY, '--ipfs', root], { env: noKubo })
    expect(r.code, r.stderr).toBe(0)
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', root, `gw2-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(out.stdout, out.stderr).toBe(img.text)
  })
})
