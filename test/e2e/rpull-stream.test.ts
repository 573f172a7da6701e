// A full pull unpacks the bottom layer while it is fetched (pull/stream-apply.ts): the tree must be
// exactly what containerd's own unpack of the whole layer gives (ctr-remote's pull), directory times
// included, no part blob may stay in the content store, and a base layer that cannot be cut is
// applied whole.
import { beforeAll, describe, expect, it } from 'vitest'
import { copyFile, mkdtemp } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FIXED_DATE, MT, OciLayoutWriter, buildFixtures, tarBuffer, writeImage, writeLayer, type TarEntry } from '../../src/testkit/index.js'
import { ctr, ctrRemote, wipeContainerd } from '../support/rig.js'
import { ipcr } from '../support/ipcr.js'

/** A two-layer image: `bottom` (gzip) under the busybox fixture's layer, so that it runs. */
async function layoutWith(dir: string, name: string, bottom: TarEntry[]): Promise<string> {
  const fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  const base = fx.single.manifests[0]
  const baseLayer = base?.layers[0]
  if (!base || !baseLayer) throw new Error('the single fixture has no layer')
  const w = await new OciLayoutWriter(dir).init()
  const low = await writeLayer(w, await tarBuffer(bottom), { mediaType: MT.ociLayerGzip, gzip: true, comment: `${name} bottom` })
  await copyFile(join(fx.single.layout, 'blobs', 'sha256', baseLayer.digest.slice(7)), w.blobPath(baseLayer.digest))
  const img = await writeImage(w, {
    platform: { architecture: 'amd64', os: 'linux' },
    layers: [low, { descriptor: baseLayer, diffId: base.diffIds[0] as string, comment: 'busybox' }],
  })
  await w.writeIndex([{ name, descriptor: img.manifest }])
  return dir
}

/** ~29 MB in 12 directories of 4 incompressible files: the layer is cut into several parts. */
function bigTree(): TarEntry[] {
  const entries: TarEntry[] = []
  for (let d = 0; d < 12; d++) {
    const dir = `tree/d${String(d).padStart(2, '0')}`
    entries.push({ path: dir, type: 'dir', mode: d % 2 ? 0o750 : 0o755 }, { path: `${dir}/sub`, type: 'dir' })
    for (let f = 0; f < 4; f++) entries.push({ path: `${dir}/f${f}.bin`, type: 'file', content: randomBytes(600_000) })
    entries.push({ path: `${dir}/sub/link`, type: 'symlink', target: '../f0.bin' })
  }
  entries.push({ path: 'tree/d11/hard', type: 'hardlink', target: 'tree/d00/f0.bin' })
  return entries
}

const listing = [
  // Every entry's mode, owner, mtime, size and type, then every file's checksum.
  "find /tree -exec stat -c '%n %a %u:%g %Y %s %F' {} + | sort",
  'find /tree -type f -exec md5sum {} + | sort',
].join('; ')

async function pullAndList(who: 'ipcr' | 'ctr-remote', cid: string): Promise<{ list: string; layers?: Record<string, number> }> {
  await wipeContainerd()
  let layers: Record<string, number> | undefined
  if (who === 'ipcr') {
    const r = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--json', '--ipfs', cid])
    expect(r.code, r.stderr).toBe(0)
    layers = JSON.parse(r.stdout).layers
  } else {
    const r = await ctrRemote(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', cid])
    expect(r.code, r.stderr).toBe(0)
  }
  const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', cid, `stream-${who}-${Date.now()}`, '/bin/sh', '-c', listing])
  expect(out.code, out.stderr).toBe(0)
  return { list: out.stdout, ...(layers ? { layers } : {}) }
}

let work: string
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-stream-'))
})

describe('rpull unpacks the bottom layer while it is fetched', () => {
  it('to the tree containerd makes of the whole layer, directory times included, leaving no part behind', async () => {
    const layout = await layoutWith(join(work, 'big'), 'ipcr.test/stream:big', bigTree())
    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${layout}`])
    expect(pushed.code, pushed.stderr).toBe(0)
    const cid = pushed.stdout.trim()

    const ours = await pullAndList('ipcr', cid)
    expect(ours.layers).toEqual({ remote: 0, applied: 2, present: 0, streamed: 1 })
    // Manifest, config and two layers: the uncompressed parts were deleted once applied.
    expect((await ctr(['content', 'ls', '-q'])).stdout.trim().split('\n')).toHaveLength(4)
    const stats = ours.list.split('\n').filter((l) => l.startsWith('/tree') && !l.includes(' symbolic link'))
    expect(stats.length).toBeGreaterThan(70)
    // Creating files in a directory changes its mtime: a part applied after its directory's would show.
    const epoch = String(FIXED_DATE.getTime() / 1000)
    expect(stats.filter((l) => l.split(' ')[3] !== epoch)).toEqual([])
    expect(ours.list).toContain('/tree/d01 750 0:0')

    const theirs = await pullAndList('ctr-remote', cid)
    expect(ours.list).toBe(theirs.list)
  })

  it('applies a base layer with a whiteout whole, as containerd would', async () => {
    const layout = await layoutWith(join(work, 'wh'), 'ipcr.test/stream:whiteout', [
      { path: 'tree/kept.txt', type: 'file', content: 'kept' },
      { path: 'tree/.wh.gone', type: 'file', content: '' },
    ])
    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${layout}`])
    expect(pushed.code, pushed.stderr).toBe(0)
    const ours = await pullAndList('ipcr', pushed.stdout.trim())
    expect(ours.layers).toEqual({ remote: 0, applied: 2, present: 0, streamed: 0 })
    expect(ours.list).toContain('/tree/kept.txt 644 0:0')
    expect(ours.list).not.toContain('.wh.')
  })
})
