// One suite every image backend runs (issue 14 item 5): each sink takes the fixture images, the
// same backend reads them back as a source to the fixture's digests, and what it holds, as an OCI
// layout, breaks no invariant the testkit's validator knows. Adding a backend is one call.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, validateLayout, type FixtureImage, type Fixtures } from '../../src/testkit/index.js'
import type { ImageSink, ImageSource } from '../../src/oci/store.js'
import { copyImage } from '../../src/pull/copy.js'
import { OciLayout } from '../../src/stores/oci-layout.js'

/** One fresh place in a backend, for one image. */
export interface BackendLocation {
  sink(): Promise<ImageSink>
  /** The same place, read back. */
  source(): Promise<ImageSource>
  /**
   * An OCI layout directory with what the backend holds, when the backend can show one itself (an
   * OCI layout, an unpacked archive); otherwise the suite exports it through copyImage.
   */
  layout?(): Promise<string>
}

export interface Backend {
  /** A fresh, empty location for the fixture named `image` (single, multi, platforms). */
  location(image: string): Promise<BackendLocation>
  /** Remove what the suite wrote (temp files, a namespace's images). */
  close?(): Promise<void>
}

type FixtureName = 'single' | 'multi' | 'platforms'
const all = { all: true } as const

/** Every digest an image is made of: root, index and manifests, configs, layers. */
function fixtureDigests(img: FixtureImage): string[] {
  const out = new Set<string>([img.root.digest])
  for (const m of img.manifests) for (const d of [m.manifest, m.config, ...m.layers]) out.add(d.digest)
  return [...out].sort()
}

export function backendSuite(name: string, open: () => Promise<Backend>): void {
  describe(`backend suite: ${name}`, () => {
    let fx: Fixtures
    let backend: Backend

    beforeAll(async () => {
      fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
      backend = await open()
    })
    afterAll(async () => {
      await backend?.close?.()
      await Promise.all(exportDirs.map((dir) => rm(dir, { recursive: true, force: true })))
    })
    const exportDirs: string[] = []

    // The platforms index goes in whole (--all-platforms): every backend here can hold an index,
    // and only a whole index makes a layout whose every descriptor names a blob it has.
    it.each<FixtureName>(['single', 'multi', 'platforms'])('%s: written, read back to the same digests, a sound OCI layout', async (short) => {
      const img = fx[short]
      const where = await backend.location(short)

      const sink = await where.sink()
      try {
        await copyImage(new OciLayout(img.layout), sink, { platforms: all })
      } finally {
        await sink.close()
      }

      const source = await where.source()
      const exported = await mkdtemp(join(tmpdir(), `ipcr-suite-${short}-`))
      exportDirs.push(exported)
      try {
        expect((await source.root()).digest).toBe(img.root.digest)
        // Reading it all back through the backend verifies every blob against its descriptor.
        const tree = await copyImage(source, new OciLayout(exported), { platforms: all })
        const read = new Set<string>([tree.root.digest, ...tree.json.map((j) => j.desc.digest), ...tree.images.flatMap((i) => i.layers.map((l) => l.digest))])
        expect([...read].sort()).toEqual(fixtureDigests(img))
      } finally {
        await source.close()
      }

      const layout = where.layout ? await where.layout() : exported
      expect(await validateLayout(layout)).toEqual([])
    })
  })
}
