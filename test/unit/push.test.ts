import { describe, expect, it } from 'vitest'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cidOf, cidText, parseCid } from '../../src/ipfs/cid.js'
import { EmbeddedIpfs } from '../../src/ipfs/embedded.js'
import type { Descriptor } from '../../src/oci/descriptor.js'
import { readAll, sha256Digest } from '../../src/oci/digest.js'
import { marshalDescriptor } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { pushImage } from '../../src/push/push.js'
import { IntegrityError, NotFoundError } from '../../src/errors.js'
import { MemoryImage } from '../support/memory-image.js'

const amd64 = { all: false as const, only: [{ os: 'linux', architecture: 'amd64' }] }

function dockerImage(img: MemoryImage, layerText: string, arch = 'amd64'): Descriptor {
  const layer = img.put(MediaType.DockerLayerGzip, `layer:${layerText}`)
  const config = img.putJson(MediaType.DockerConfig, { architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest('x')] } })
  return img.putJson(MediaType.DockerManifest, { schemaVersion: 2, mediaType: MediaType.DockerManifest, config, layers: [layer] })
}

async function embedded(): Promise<EmbeddedIpfs> {
  return new EmbeddedIpfs(await mkdtemp(join(tmpdir(), 'ipcr-push-')))
}

async function fetchJson(ipfs: EmbeddedIpfs, d: Descriptor): Promise<Record<string, unknown>> {
  const url = d.urls?.[0] ?? ''
  expect(url).toMatch(/^ipfs:\/\/baf/)
  const bytes = await readAll(ipfs.cat(parseCid(url.slice(7))))
  expect(sha256Digest(bytes)).toBe(d.digest)
  return JSON.parse(bytes.toString('utf8')) as Record<string, unknown>
}

describe('pushImage', () => {
  it('adds every blob, rewrites Docker types to OCI and puts ipfs:// URLs on every descriptor', async () => {
    const img = new MemoryImage()
    img.rootDesc = { ...dockerImage(img, 'a'), annotations: { 'io.containerd.image.name': 'x/y:1' } }
    const ipfs = await embedded()
    const result = await pushImage(img, ipfs, { platforms: amd64 })

    // The printed CID is the CID of the root descriptor JSON, which carries its own URL.
    expect(result.rootCid).toBe(cidText(await cidOf(Buffer.from(marshalDescriptor(result.root)))))
    expect(result.root.mediaType).toBe(MediaType.OciManifest)
    expect(result.root.annotations).toEqual({ 'io.containerd.image.name': 'x/y:1' })
    const manifest = await fetchJson(ipfs, result.root)
    expect(manifest.mediaType).toBe(MediaType.OciManifest)
    const config = manifest.config as Descriptor
    const [layer] = manifest.layers as Descriptor[]
    expect(config.mediaType).toBe(MediaType.OciConfig)
    expect(layer?.mediaType).toBe(MediaType.OciLayerGzip)
    // Unchanged blobs are added as their original bytes.
    expect((await readAll(ipfs.cat(parseCid(layer!.urls![0]!.slice(7))))).toString()).toBe('layer:a')
    await fetchJson(ipfs, config)
    expect(result.blobs.map((b) => b.mediaType).sort()).toEqual([MediaType.OciConfig, MediaType.OciLayerGzip, MediaType.OciManifest].sort())
  })

  it('keeps only the selected platforms of an index, and entries without a platform', async () => {
    const img = new MemoryImage()
    const a = dockerImage(img, 'amd', 'amd64')
    const b = dockerImage(img, 'arm', 'arm64')
    const c = dockerImage(img, 'none')
    img.rootDesc = img.putJson(MediaType.OciIndex, {
      schemaVersion: 2, mediaType: MediaType.OciIndex,
      manifests: [{ ...a, platform: { architecture: 'amd64', os: 'linux' } }, { ...b, platform: { architecture: 'arm64', os: 'linux' } }, c],
    })
    const ipfs = await embedded()
    const one = await pushImage(img, ipfs, { platforms: amd64 })
    const index = await fetchJson(ipfs, one.root)
    const kept = index.manifests as Descriptor[]
    expect(kept.map((m) => m.platform?.architecture)).toEqual(['amd64', undefined])
    expect(kept.every((m) => m.mediaType === MediaType.OciManifest && m.urls?.length === 1)).toBe(true)

    const all = await pushImage(img, ipfs, { platforms: { all: true } })
    expect(((await fetchJson(ipfs, all.root)).manifests as Descriptor[]).length).toBe(3)

    const s390 = { all: false as const, only: [{ os: 'linux', architecture: 's390x' }] }
    img.rootDesc = img.putJson(MediaType.OciIndex, { schemaVersion: 2, manifests: [{ ...b, platform: { architecture: 'arm64', os: 'linux' } }] })
    await expect(pushImage(img, ipfs, { platforms: s390 })).rejects.toThrow(NotFoundError)
    await expect(pushImage(img, ipfs, { platforms: s390 })).rejects.toThrow(/linux\/s390x.*it has: linux\/arm64/)
  })

  it('refuses a blob whose bytes do not match its digest', async () => {
    const img = new MemoryImage()
    img.rootDesc = dockerImage(img, 'good')
    const manifest = JSON.parse(img.blobs.get(img.rootDesc.digest)!.toString()) as { layers: Descriptor[] }
    img.blobs.set(manifest.layers[0]!.digest, Buffer.from('layer:evil'))
    await expect(pushImage(img, await embedded(), { platforms: amd64 })).rejects.toThrow(IntegrityError)
  })

  it('refuses a size claim the blob does not meet', async () => {
    const img = new MemoryImage()
    const layer = img.put(MediaType.OciLayerGzip, 'short')
    const config = img.putJson(MediaType.OciConfig, { architecture: 'amd64', os: 'linux' })
    img.rootDesc = img.putJson(MediaType.OciManifest, { schemaVersion: 2, config, layers: [{ ...layer, size: 1 << 30 }] })
    await expect(pushImage(img, await embedded(), { platforms: amd64 })).rejects.toThrow(/bytes where its descriptor claims/)
  })
})
