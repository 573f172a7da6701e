// A runnable image no other test (and no earlier run) has pushed: the busybox fixture's layer plus a
// layer holding /unique.txt and 600 KB of random bytes (so its blob spans several IPFS blocks). Tests of
// transports use it so that blocks already sitting in the rig's kubo cannot hide a broken transfer.
import { copyFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { MT, OciLayoutWriter, buildFixtures, tarBuffer, writeImage, writeLayer, type Descriptor } from '../../src/testkit/index.js'

export interface UniqueImage {
  layout: string
  name: string
  /** What `cat /unique.txt` prints inside the container. */
  text: string
  /** Layers and config as the source layout has them (byte-identical after a push without conversion). */
  layers: Descriptor[]
  config: Descriptor
}

export async function uniqueImage(dir: string, tag: string): Promise<UniqueImage> {
  const fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  const base = fx.single.manifests[0]
  const baseLayer = base?.layers[0]
  if (!base || !baseLayer) throw new Error('the single fixture has no layer')
  const w = await new OciLayoutWriter(dir).init()
  await copyFile(join(fx.single.layout, 'blobs', 'sha256', baseLayer.digest.slice(7)), w.blobPath(baseLayer.digest))
  const text = `unique ${tag} ${randomBytes(8).toString('hex')}`
  const extra = await writeLayer(w, await tarBuffer([
    { path: 'unique.txt', type: 'file', content: text },
    { path: 'noise.bin', type: 'file', content: randomBytes(600_000) },
  ]), { mediaType: MT.ociLayerGzip, gzip: true, comment: `unique layer ${tag}` })
  const img = await writeImage(w, {
    platform: { architecture: 'amd64', os: 'linux' },
    layers: [{ descriptor: baseLayer, diffId: base.diffIds[0] as string, comment: 'busybox base' }, extra],
  })
  const name = `ipcr.test/unique:${tag}`
  await w.writeIndex([{ name, descriptor: img.manifest }])
  return { layout: dir, name, text, layers: img.layers, config: img.config }
}
