// `ipcr ipfs cid` must agree with kubo's own `ipfs add --only-hash --cid-version=1` at every
// boundary of the DAG shape: one chunk, one more byte, a full 174-link node, one more byte.
import { describe, expect, it } from 'vitest'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { createWriteStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { prngStream } from '../../src/testkit/index.js'
import { ipfs } from '../support/rig.js'
import { ipcr } from '../support/ipcr.js'

const sizes = [0, 1, 262_143, 262_144, 262_145, 174 * 262_144, 174 * 262_144 + 1, 50 << 20]

describe('ipcr ipfs cid equals kubo add --only-hash', () => {
  it.each(sizes)('for %i random bytes', async (size) => {
    const dir = await mkdtemp(join(tmpdir(), 'ipcr-cid-'))
    const file = join(dir, 'blob')
    await pipeline(prngStream(`cid-${size}`, size), createWriteStream(file))
    const ours = await ipcr(['ipfs', 'cid', file])
    const theirs = await ipfs(['add', '--only-hash', '--cid-version=1', '-Q', file])
    expect(ours.code, ours.stderr).toBe(0)
    expect(theirs.code, theirs.stderr).toBe(0)
    expect(ours.stdout).toBe(theirs.stdout)
  })

  it('for the root descriptor vector of the stargz-snapshotter documentation, also from stdin', async () => {
    const vector = '{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:80d6aec48c0a74635a5f3dc106328c1673afaa21ed6e1270a9a44de66e8ffa55","size":314,"urls":["ipfs://bafkreiea22xmjdakorrvuxz5yeddfdawoox2uipnnyjhbknejxtg5d72ku"]}'
    const file = join(await mkdtemp(join(tmpdir(), 'ipcr-cid-')), 'root.json')
    await writeFile(file, vector)
    const expected = 'bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a\n'
    expect((await ipcr(['ipfs', 'cid', file])).stdout).toBe(expected)
    expect((await ipcr(['ipfs', 'cid', '-'], { input: vector })).stdout).toBe(expected)
    expect((await ipfs(['add', '--only-hash', '--cid-version=1', '-Q', file])).stdout).toBe(expected)
  })
})
