// Issue 4, lazy half: ipcr rpull with the stargz snapshotter mounts every layer from IPFS without
// fetching it, and the container sees exactly the tree a full overlayfs pull gives.
import { beforeAll, describe, expect, it } from 'vitest'
import { readFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ctr, rigEnv, wipeContainerd } from '../support/rig.js'
import { ipcr } from '../support/ipcr.js'

let fx: Fixtures
let cid: string
let layers: string[]

// Every path with its type, and a checksum for regular files: the whole tree, compared as text.
const treeScript = `cd / && find bin data etc home tmp | sort | while read -r f; do
  if [ -L "$f" ]; then echo "L $f -> $(readlink "$f")"; elif [ -f "$f" ]; then echo "F $f $(md5sum < "$f" | cut -c1-32) $(stat -c %a:%u:%g "$f")"; else echo "D $f $(stat -c %a:%u:%g "$f")"; fi
done`

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  await wipeContainerd()
  expect((await ctr(['images', 'import', fx.multi.tar])).code).toBe(0)
  const pushed = await ipcr(['i', 'ipfs-push', '--json', '--ipns=false', fx.multi.name])
  expect(pushed.code, pushed.stderr).toBe(0)
  const result = JSON.parse(pushed.stdout) as { root: string; blobs: Array<{ mediaType: string; digest: string }> }
  cid = result.root
  layers = result.blobs.filter((b) => b.mediaType.includes('layer')).map((b) => b.digest)
  expect(layers).toHaveLength(3)
})

describe('rpull --ipfs with the stargz snapshotter (the default when containerd has it)', () => {
  let lazyTree: string

  it('mounts every layer remotely, fetches no layer blob, and the container runs', async () => {
    await wipeContainerd()
    const logBefore = (await stat(rigEnv().IPCR_RIG_STARGZ_LOG)).size
    const r = await ipcr(['i', 'rpull', '--ipfs', cid])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/using the stargz snapshotter/)
    expect(r.stderr.match(/^mounted sha256:[0-9a-f]{8}\.\.\. remotely/gm)).toHaveLength(3)
    expect(r.stderr).not.toMatch(/fetching sha256:\S+ application\/vnd\.oci\.image\.layer/)
    const log = (await readFile(rigEnv().IPCR_RIG_STARGZ_LOG)).subarray(logBefore).toString()
    expect(log.match(/"remote-snapshot-prepared":"true"/g)).toHaveLength(3)
    expect(log).not.toMatch(/"remote-snapshot-prepared":"false"/)
    const content = (await ctr(['content', 'ls', '-q'])).stdout
    for (const l of layers) expect(content).not.toContain(l)
    const out = await ctr(['run', '--rm', '--snapshotter', 'stargz', cid, `lazy-${process.pid}`, '/bin/sh', '-c', treeScript])
    expect(out.code, out.stderr).toBe(0)
    lazyTree = out.stdout
    expect(lazyTree).toMatch(/^F data\/tree\/a\/x\.txt /m)
  })

  it('ipcr run --snapshotter=stargz runs it, and the snapshotter lists one TOC file per layer inside', async () => {
    const r = await ipcr(['run', '--rm', '--snapshotter=stargz', cid, `lazy-run-${process.pid}`, 'ls', '/.stargz-snapshotter'])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim().split('\n').sort()).toEqual(layers.map((l) => `${l}.json`).sort())
  })

  it('gives the same tree as a full overlayfs pull of the same CID', async () => {
    await wipeContainerd()
    const r = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', cid])
    expect(r.code, r.stderr).toBe(0)
    // Without lazy pulling every blob is fetched, layers included.
    expect(r.stderr.match(/^fetching sha256:\S+ application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip$/gm)).toHaveLength(3)
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', cid, `full-${process.pid}`, '/bin/sh', '-c', treeScript])
    expect(out.code, out.stderr).toBe(0)
    expect(out.stdout).toBe(lazyTree)
  })
})
