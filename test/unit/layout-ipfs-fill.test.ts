// An OCI layout that lacks blobs its descriptors fetch from ipfs:// (what `skopeo copy … oci:DIR`
// writes from ipcr's registry: the layers carry URLs, so containers/image leaves them out as
// foreign) is read whole: each absent blob comes from IPFS, once, with a notice, and is verified
// like every blob. A layout holding every blob never opens IPFS; an absent blob with no ipfs:// URL
// fails as before.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { mkdir, mkdtemp, readdir, rm, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { IntegrityError, NotFoundError } from '../../src/errors.js'
import { EmbeddedIpfs } from '../../src/ipfs/embedded.js'
import type { IpfsBackend } from '../../src/ipfs/backend.js'
import { parseCid } from '../../src/ipfs/cid.js'
import type { Descriptor } from '../../src/oci/descriptor.js'
import { sha256Digest } from '../../src/oci/digest.js'
import { parseLocation } from '../../src/oci/location.js'
import { MediaType } from '../../src/oci/media-types.js'
import type { ImageSource } from '../../src/oci/store.js'
import { verifiedSource } from '../../src/oci/verified.js'
import { copyImage } from '../../src/pull/copy.js'
import { pushImage } from '../../src/push/push.js'
import { fillFromIpfs } from '../../src/stores/ipfs-fill.js'
import { IpfsImageSource } from '../../src/stores/ipfs.js'
import { OciLayout } from '../../src/stores/oci-layout.js'
import { openImageSource } from '../../src/stores/open.js'
import { prngBytes, tarBuffer, validateLayout } from '../../src/testkit/index.js'
import { MemoryImage } from '../support/memory-image.js'
import { MemoryIpfs } from '../support/memory-ipfs.js'

const platforms = { all: false as const, only: [{ os: 'linux', architecture: 'amd64' }] }
// Two uncompressed tar layers; the second spans three 256 KiB blocks.
const layerTars = await Promise.all([
  tarBuffer([{ path: 'small.txt', type: 'file', content: 'small layer' }]),
  tarBuffer([{ path: 'big.bin', type: 'file', content: prngBytes('ipfs-fill', 600 << 10) }]),
])

let work: string

/** An image whose two layers and config are distinct blobs. */
function image(): MemoryImage {
  const img = new MemoryImage()
  const layers = layerTars.map((t) => img.put(MediaType.OciLayer, t))
  const config = img.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } })
  img.rootDesc = img.putJson(MediaType.OciManifest, { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers })
  return img
}

/** `source` written as a layout in `dir`, then its layer blobs deleted: skopeo's oci: copy of an IPFS-enabled image. */
async function thinLayout(source: ImageSource, dir: string): Promise<Descriptor[]> {
  const tree = await copyImage(source, new OciLayout(dir), { platforms })
  const layers = tree.images.flatMap((i) => i.layers)
  for (const l of layers) await unlink(join(dir, 'blobs', 'sha256', l.digest.slice(7)))
  return layers
}

/** What a reader of `dir` gets: the layout filled from `ipfs`, verified as open() wraps it. */
function filled(dir: string, ipfs: () => Promise<IpfsBackend>, notes: string[]): ImageSource {
  return verifiedSource(fillFromIpfs(new OciLayout(dir), ipfs, (l) => notes.push(l)))
}

const blobsIn = async (dir: string): Promise<string[]> => (await readdir(join(dir, 'blobs', 'sha256'))).sort()

let ipfs: MemoryIpfs
let pushedRoot: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-fill-'))
  ipfs = new MemoryIpfs()
  pushedRoot = (await pushImage(image(), ipfs, { platforms })).rootCid
})

afterAll(async () => {
  vi.unstubAllEnvs()
  await rm(work, { recursive: true, force: true })
})

describe('an OCI layout whose absent blobs have ipfs:// URLs', () => {
  it('reads each absent layer from IPFS, opening it once, with one notice per blob, into a complete layout', async () => {
    const thin = join(work, 'thin')
    const layers = await thinLayout(new IpfsImageSource(parseCid(pushedRoot), ipfs), thin)
    expect(layers).toHaveLength(2)
    expect(layers.every((l) => l.urls?.[0]?.startsWith('ipfs://'))).toBe(true)
    let opened = 0
    const notes: string[] = []
    const source = filled(thin, async () => { opened++; return ipfs }, notes)
    const out = join(work, 'filled')
    const tree = await copyImage(source, new OciLayout(out), { platforms })
    await source.close()

    expect(opened).toBe(1)
    expect(ipfs.closed).toBe(1) // the source owns the backend it opened
    expect(notes).toHaveLength(2)
    for (const l of layers) expect(notes).toContainEqual(`${l.digest.slice(0, 19)} is not in oci-layout:${thin}: reading it from ${l.urls?.[0]}, as its descriptor says`)
    expect(tree.root.digest).toBe((await new OciLayout(thin).root()).digest)
    expect(await validateLayout(out)).toEqual([])
    expect(await blobsIn(out)).toEqual([...await blobsIn(thin), ...layers.map((l) => l.digest.slice(7))].sort())
  })

  it('never opens IPFS for a layout that holds every blob', async () => {
    const full = join(work, 'full')
    await copyImage(new IpfsImageSource(parseCid(pushedRoot), ipfs), new OciLayout(full), { platforms })
    const notes: string[] = []
    const source = filled(full, () => Promise.reject(new Error('IPFS was opened')), notes)
    await copyImage(source, new OciLayout(join(work, 'full-copy')), { platforms })
    await source.close()
    expect(notes).toEqual([])
  })

  it('fails on a block that does not match its blob, naming the digest, and keeps nothing', async () => {
    const thin = join(work, 'thin-corrupt')
    const [small] = await thinLayout(new IpfsImageSource(parseCid(pushedRoot), ipfs), thin)
    const corrupt = new MemoryIpfs()
    for (const [cid, bytes] of ipfs.blocks.blocks) corrupt.blocks.blocks.set(cid, bytes)
    // A store that hands back other bytes under the layer's CID (MemoryBlocks does not check).
    corrupt.blocks.put(parseCid(small?.urls?.[0]?.slice('ipfs://'.length) ?? ''), Buffer.from('SMALL LAYER'))
    const source = filled(thin, async () => corrupt, [])
    const out = join(work, 'corrupt-out')
    const err = await copyImage(source, new OciLayout(out), { platforms }).then(() => undefined, (e: unknown) => e)
    await source.close()
    expect(err).toBeInstanceOf(IntegrityError)
    expect((err as Error).message).toContain(small?.digest.slice(0, 19))
    expect(await blobsIn(out).catch(() => [])).not.toContain(small?.digest.slice(7))
  })

  it('says which blob IPFS could not give, and from which URL', async () => {
    const thin = join(work, 'thin-absent')
    const layers = await thinLayout(new IpfsImageSource(parseCid(pushedRoot), ipfs), thin)
    const source = filled(thin, async () => new MemoryIpfs(), [])
    const err = await copyImage(source, new OciLayout(join(work, 'absent-out')), { platforms, concurrency: 1 }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundError)
    const first = layers[0] as Descriptor
    expect((err as Error).message).toMatch(new RegExp(`^${first.digest} is missing from oci-layout:${thin} and could not be read from ${first.urls?.[0]}: block baf\\w+ is not here$`))
  })
})

describe('an OCI layout whose absent blob has no ipfs:// URL', () => {
  it('fails as it always did, without opening IPFS', async () => {
    const img = image()
    const dir = join(work, 'plain')
    await copyImage(img, new OciLayout(dir), { platforms })
    const layer = sha256Digest(layerTars[0] as Buffer)
    await unlink(join(dir, 'blobs', 'sha256', layer.slice(7)))
    const source = filled(dir, () => Promise.reject(new Error('IPFS was opened')), [])
    const err = await copyImage(source, new OciLayout(join(work, 'plain-out')), { platforms }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(NotFoundError)
    expect((err as Error).message).toBe(`blob ${layer} is missing from the OCI layout ${dir}`)
  })
})

describe('openImageSource(oci-layout:…)', () => {
  it('fills from the IPFS every command would choose (here the embedded store), saying which', async () => {
    const root = join(work, 'ipcr-root')
    const embedded = new EmbeddedIpfs(root)
    const cid = (await pushImage(image(), embedded, { platforms })).rootCid
    expect(cid).toBe(pushedRoot) // the same DAGs as kubo's (and the memory fake's)
    const thin = join(work, 'thin-embedded')
    await thinLayout(new IpfsImageSource(parseCid(cid), embedded), thin)
    await mkdir(join(work, 'no-kubo'))
    vi.stubEnv('IPFS_PATH', join(work, 'no-kubo'))
    vi.stubEnv('IPCR_ROOT', root)
    const notes: string[] = []
    const source = await openImageSource(parseLocation(`oci-layout:${thin}`), { address: '/nonexistent.sock', namespace: 'unused', notify: (l) => notes.push(l) })
    const out = join(work, 'embedded-out')
    await copyImage(source, new OciLayout(out), { platforms })
    await source.close()
    expect(await validateLayout(out)).toEqual([])
    expect(notes.filter((n) => n.includes('using the embedded store'))).toHaveLength(1)
    expect(notes.filter((n) => n.includes('as its descriptor says'))).toHaveLength(2)
  })
})
