// Issue 18, Build 3: the conversion memo names the source and the settings it was made from, and
// is checked on reuse, so a label stargz-snapshotter's converter copied onto its own output is
// never taken for a conversion of that output.
import { availableParallelism } from 'node:os'
import { describe, expect, it } from 'vitest'
import type { ContainerdClient } from '../../src/containerd/client.js'
import type { ContentInfo } from '../../src/containerd/content-rpc.js'
import { estargzCompressorId } from '../../src/estargz/writer-id.js'
import {
  checkConvertedMemo, checkSourceMemo, conversionKey, encodeMemo, parseMemo, type Conversion,
} from '../../src/oci/conversion-memo.js'
import { readAll, sha256Digest, type Digest } from '../../src/oci/digest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { estargzConversion } from '../../src/push/estargz-layers.js'
import { ContainerdImageStore } from '../../src/stores/containerd.js'

const d = (s: string): Digest => sha256Digest(Buffer.from(s))
const S = d('source layer')
const E1 = d('ipcr conversion')
const E2 = d('ctr-remote conversion')
const conv: Conversion = { kind: 'estargz', settings: { 'chunk-size': '4194304', level: '9', prioritized: 'none', writer: '1', compressor: 'node-zlib-1.3.1' } }

describe('the memo line', () => {
  it('is readable and versioned, and parses back to what was encoded', () => {
    const line = encodeMemo({ source: S, converted: E1, conversion: conv })
    expect(line).toBe(`ipcr-memo/1 estargz source=${S} converted=${E1} chunk-size=4194304 level=9 prioritized=none writer=1 compressor=node-zlib-1.3.1`)
    expect(parseMemo(line)).toEqual({ source: S, converted: E1, conversion: conv })
  })

  it('is nothing when it is another version, a bare digest (the old label) or malformed', () => {
    const line = encodeMemo({ source: S, converted: E1, conversion: conv })
    for (const bad of [
      undefined, '', E1, line.replace('ipcr-memo/1', 'ipcr-memo/2'), line.replace(`source=${S} `, ''), line.replace(`converted=${E1} `, ''),
      line.replace(`source=${S}`, 'source=sha256:abc'), `${line} level=6`, `${line} source=${S}`, `${line} =x`, `${line}  `, line.replace(' estargz ', ' '),
    ]) expect(parseMemo(bad), String(bad)).toBeUndefined()
  })

  it('refuses to encode what it could not parse back', () => {
    expect(() => encodeMemo({ source: S, converted: E1, conversion: { kind: 'estargz', settings: { level: '9 x' } } })).toThrow(/without spaces/)
    expect(() => encodeMemo({ source: S, converted: E1, conversion: { kind: 'estargz', settings: { 'a=b': '1' } } })).toThrow(/without spaces/)
    expect(() => encodeMemo({ source: S, converted: E1, conversion: { kind: 'estargz', settings: { source: S } } })).toThrow(/cannot be a setting/)
    expect(() => encodeMemo({ source: 'sha256:1' as Digest, converted: E1, conversion: conv })).toThrow(/not a sha256 digest/)
  })

  it('files different settings under different keys, and the same settings in any order under one', () => {
    const reordered: Conversion = { kind: 'estargz', settings: Object.fromEntries(Object.entries(conv.settings).reverse()) }
    expect(conversionKey(reordered)).toBe(conversionKey(conv))
    expect(conversionKey(conv)).toMatch(/^estargz-[0-9a-f]{16}$/)
    for (const [k, v] of [['level', '6'], ['chunk-size', '1048576'], ['compressor', 'go-flate-1'], ['writer', '2']] as const) {
      expect(conversionKey({ kind: 'estargz', settings: { ...conv.settings, [k]: v } })).not.toBe(conversionKey(conv))
    }
  })
})

describe('checking a memo before reuse', () => {
  const line = encodeMemo({ source: S, converted: E1, conversion: conv })

  it('accepts a memo that names this source and these settings', () => {
    expect(checkSourceMemo(line, S, conv)).toEqual({ converted: E1 })
    expect(checkConvertedMemo(line, E1, conv)).toEqual({ ok: true })
  })

  it('refuses a memo copied onto another blob: it names the blob it was made for', () => {
    // ctr-remote's converter gives its output E2 every label of S, this memo included.
    expect(checkSourceMemo(line, E2, conv)).toEqual({ why: expect.stringContaining(`made for ${S}`) as string })
    // ... and converting ipcr's output E1 to E2 gives E2 E1's labels.
    expect(checkConvertedMemo(line, E2, conv)).toEqual({ why: expect.stringContaining(`names ${E1}`) as string })
  })

  it('refuses a memo of other settings, another writer or another compressor', () => {
    for (const [k, v] of [['level', '1'], ['chunk-size', '65536'], ['prioritized', d('list')], ['writer', '2'], ['compressor', 'go-flate-1']] as const) {
      const other: Conversion = { kind: 'estargz', settings: { ...conv.settings, [k]: v } }
      expect(checkSourceMemo(line, S, other), k).toEqual({ why: 'the memo was made with other settings' })
      expect(checkConvertedMemo(line, E1, other), k).toHaveProperty('why')
    }
  })

  it('refuses the old label, a bare digest', () => {
    expect(checkSourceMemo(E1, S, conv)).toHaveProperty('why')
    expect(checkSourceMemo(undefined, S, conv)).toEqual({ why: 'no memo' })
  })
})

describe('the eStargz conversion settings', () => {
  it('spell out the defaults, so a default flag and no flag share a memo', () => {
    expect(estargzConversion({})).toEqual({
      kind: 'estargz',
      settings: { 'chunk-size': '4194304', level: '9', prioritized: 'none', writer: '3', compressor: 'go-flate-go1.26', parts: String(availableParallelism()) },
    })
    expect(estargzConversion({ level: 9, chunkSize: 4 << 20, prioritizedFiles: [], compressor: 'go', parts: availableParallelism() })).toEqual(estargzConversion({}))
  })

  it('name the prioritized files by the digest of their list, in order', () => {
    const a = estargzConversion({ prioritizedFiles: ['/bin/sh', '/etc/passwd'] }).settings.prioritized
    const b = estargzConversion({ prioritizedFiles: ['/etc/passwd', '/bin/sh'] }).settings.prioritized
    expect(a).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(a).not.toBe(b)
    // Whether missing files fail the conversion does not change its bytes.
    expect(estargzConversion({ prioritizedFiles: ['/bin/sh'], allowMissingPrioritized: true })).toEqual(estargzConversion({ prioritizedFiles: ['/bin/sh'] }))
  })

  it('name the gzip encoder with its version (Node\'s zlib may change between releases), and the parts the layer is cut into', () => {
    expect(estargzConversion({ compressor: 'zlib' }).settings.compressor).toBe(`node-zlib-${process.versions.zlib}`)
    expect(estargzConversion({ compressor: 'go' }).settings.compressor).toBe(estargzCompressorId({}))
    expect(estargzConversion({ parts: 1 }).settings.parts).toBe('1')
  })

  it('make a memo line a containerd label can hold', () => {
    const line = encodeMemo({ source: S, converted: E1, conversion: estargzConversion({ prioritizedFiles: Array.from({ length: 10_000 }, (_, i) => `/f${i}`) }) })
    expect(line.length).toBeLessThan(512) // containerd's limit is 4096 bytes for key and value
  })
})

// A content store in memory with containerd's label semantics: a write of a blob that is there
// already adds its labels; stargz-snapshotter's converter writes its output with the source's labels.
function fakeContainerd() {
  const blobs = new Map<Digest, ContentInfo>()
  const content = {
    info: async (digest: Digest) => {
      const info = blobs.get(digest)
      if (!info) throw new Error(`content digest ${digest}: not found`)
      return { ...info, labels: { ...info.labels } }
    },
    updateLabels: async (digest: Digest, labels: Record<string, string | undefined>) => {
      const info = blobs.get(digest)
      if (!info) throw new Error(`content digest ${digest}: not found`)
      for (const [k, v] of Object.entries(labels)) if (v === undefined) delete info.labels[k]; else info.labels[k] = v
      return info
    },
    write: async (desc: { digest: Digest; size: number }, bytes: AsyncIterable<Uint8Array>, opts: { labels?: Record<string, string> } = {}) => {
      const had = blobs.get(desc.digest)
      if (had) {
        Object.assign(had.labels, opts.labels)
        return { written: false, resumedAt: 0 }
      }
      await readAll(bytes)
      blobs.set(desc.digest, { digest: desc.digest, size: desc.size, labels: { ...opts.labels } })
      return { written: true, resumedAt: 0 }
    },
  }
  const client = { content, namespace: 'unit', close: async () => {} } as Record<string, unknown>
  client.createLease = async () => ({ lease: { id: 'l', labels: {} }, client, done: async () => {} })
  /** What ctr-remote's LayerConvertFunc does: the output gets the source's labels and its own diff ID. */
  const ctrRemoteConvert = (from: Digest, to: Digest, diffId: Digest) => {
    blobs.set(to, { digest: to, size: 1, labels: { ...blobs.get(from)?.labels, 'containerd.io/uncompressed': diffId } })
  }
  const put = (digest: Digest, labels: Record<string, string> = {}) => blobs.set(digest, { digest, size: 1, labels })
  return { client: client as unknown as ContainerdClient, blobs, ctrRemoteConvert, put }
}

async function* once(b: Uint8Array): AsyncIterable<Uint8Array> { yield b }

describe('ContainerdImageStore keeps and checks the memo', () => {
  const layer = (digest: Digest) => ({ mediaType: MediaType.OciLayerGzip, digest, size: 1 })
  const stored = (digest: Digest) => ({ digest, size: 1, diffId: d(`diff of ${digest}`), annotations: { 'containerd.io/snapshot/stargz/toc.digest': d(`toc of ${digest}`) } })

  it('finds a conversion it stored, for the same layer and settings only', async () => {
    const fake = fakeContainerd()
    fake.put(S)
    const store = new ContainerdImageStore(fake.client, 'x')
    expect(await store.findConverted(layer(S), conv)).toBeUndefined()
    await store.storeConverted(layer(S), conv, stored(E1), once(Buffer.from('e1')))
    expect(await store.findConverted(layer(S), conv)).toEqual(stored(E1))
    expect(await store.findConverted(layer(S), { kind: 'estargz', settings: { ...conv.settings, level: '1' } })).toBeUndefined()
    const labels = fake.blobs.get(S)?.labels ?? {}
    expect(labels[`ipcr.io/converted.${conversionKey(conv)}`]).toBe(encodeMemo({ source: S, converted: E1, conversion: conv }))
    expect(labels[`containerd.io/gc.ref.content.ipcr.${conversionKey(conv)}`]).toBe(E1)
    expect(fake.blobs.get(E1)?.labels[`ipcr.io/conversion.${conversionKey(conv)}`]).toBe(encodeMemo({ source: S, converted: E1, conversion: conv }))
    await store.close()
  })

  it('does not take the memo ctr-remote copied onto its output for a conversion of that output', async () => {
    const fake = fakeContainerd()
    fake.put(S)
    const store = new ContainerdImageStore(fake.client, 'x')
    await store.storeConverted(layer(S), conv, stored(E1), once(Buffer.from('e1')))
    fake.ctrRemoteConvert(S, E2, d('diff of E2'))
    expect(fake.blobs.get(E2)?.labels[`ipcr.io/converted.${conversionKey(conv)}`]).toContain(`converted=${E1}`) // the copy is there
    expect(await store.findConverted(layer(E2), conv)).toBeUndefined()
    // Converting E2 then files its own memo over the copy; S keeps its own.
    const E3 = d('ipcr conversion of E2')
    await store.storeConverted(layer(E2), conv, stored(E3), once(Buffer.from('e3')))
    expect(await store.findConverted(layer(E2), conv)).toEqual(stored(E3))
    expect(await store.findConverted(layer(S), conv)).toEqual(stored(E1))
    await store.close()
  })

  it('does not trust a converted blob whose labels were copied from another (ctr-remote converting ipcr\'s output)', async () => {
    const fake = fakeContainerd()
    fake.put(S)
    const store = new ContainerdImageStore(fake.client, 'x')
    await store.storeConverted(layer(S), conv, stored(E1), once(Buffer.from('e1')))
    // E4: ctr-remote's conversion of E1, carrying E1's labels (its TOC digest among them).
    const E4 = d('ctr-remote conversion of E1')
    fake.ctrRemoteConvert(E1, E4, d('diff of E4'))
    // A memo on S pointing at E4 (as if written by hand or by a broken tool) is not enough.
    fake.blobs.get(S)!.labels[`ipcr.io/converted.${conversionKey(conv)}`] = encodeMemo({ source: S, converted: E4, conversion: conv })
    expect(await store.findConverted(layer(S), conv)).toBeUndefined()
    await store.close()
  })

  it('ignores the old bare-digest label and a converted blob that is gone', async () => {
    const fake = fakeContainerd()
    fake.put(S, { [`ipcr.io/converted.${conversionKey(conv)}`]: E1 })
    fake.put(E1, { 'containerd.io/uncompressed': d('diff') })
    const store = new ContainerdImageStore(fake.client, 'x')
    expect(await store.findConverted(layer(S), conv)).toBeUndefined()
    await store.storeConverted(layer(S), conv, stored(E1), once(Buffer.from('e1')))
    expect(await store.findConverted(layer(S), conv)).toEqual(stored(E1))
    fake.blobs.delete(E1)
    expect(await store.findConverted(layer(S), conv)).toBeUndefined()
    await store.close()
  })
})
