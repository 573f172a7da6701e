import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { EstargzPool, InvalidLayerError, convertLayerFileToEstargz } from '../../src/estargz/index.js'
import { bytes, tarOf } from '../estargz-check/fixture.js'
import { bundledEstargzWorker } from '../support/estargz-worker.js'

let dir: string
let workerUrl: URL
const layers: string[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ipcr-estargz-pool-'))
  workerUrl = await bundledEstargzWorker(dir)
  for (let i = 0; i < 3; i++) {
    const t = await tarOf([
      { header: { name: `layer${i}/`, type: 'directory', mode: 0o755 } },
      { header: { name: `layer${i}/data`, type: 'file', mode: 0o644 }, content: bytes((3 + i) << 20, `layer${i}`) },
    ])
    const path = join(dir, `layer${i}${i % 2 ? '.tar' : '.tar.gz'}`)
    await writeFile(path, i % 2 ? t : gzipSync(t))
    layers.push(path)
  }
})

afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('EstargzPool', () => {
  it('converts layers one at a time with its gzip workers, as the converter without them does', async () => {
    const pool = new EstargzPool({ gzipWorkers: 2, workerUrl })
    try {
      const results = await Promise.all(layers.map((p) => pool.convertFile(p, {}, dir)))
      for (const [i, r] of results.entries()) {
        const local = await convertLayerFileToEstargz(layers[i]!, {}, dir)
        expect(r).toEqual({ ...local, path: r.path })
      }
    } finally {
      await pool.close()
    }
  })

  it('fails a layer with its typed error and goes on with the next', async () => {
    const pool = new EstargzPool({ gzipWorkers: 1, workerUrl })
    const bad = join(dir, 'bad.tar')
    await writeFile(bad, Buffer.alloc(4096, 0x42))
    try {
      const err = await pool.convertFile(bad, {}, dir).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(InvalidLayerError)
      expect((err as Error).message).toBe('not a tar archive (bad header checksum at offset 0)')
      expect((await pool.convertFile(layers[1]!, {}, dir)).tocDigest).toMatch(/^sha256:/)
    } finally {
      await pool.close()
    }
  })
})
