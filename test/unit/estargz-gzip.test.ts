// The gzip writer must give Go's bytes: these digests are sha256 of what Go 1.26's compress/gzip
// writes (NewWriterLevel, one Write, Close; "+flush": Flush before Close, as estargz's Writer
// does) for the same inputs, printed by
// `cd test/fixtures/go-gzip && go run . digests`; the generators below mirror that program's.
import { describe, expect, it } from 'vitest'
import { createHash } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import { GzipLevelError, GzipMember, gzipMember } from '../../src/estargz/gzip/index.js'

const GO_DIGESTS: Record<string, string> = {
  'empty -2': '30e6fa98fb48c2b132824d1ac5e2243c0be9e9082ff32598d34d7687ca7f6c7f',
  'empty -1': '30e6fa98fb48c2b132824d1ac5e2243c0be9e9082ff32598d34d7687ca7f6c7f',
  'empty 0': '30e6fa98fb48c2b132824d1ac5e2243c0be9e9082ff32598d34d7687ca7f6c7f',
  'empty 1': '81da0491c5af5635831f6a3febb5d9bfd66987ba3ecc42e58dc3d80938c25705',
  'empty 2': '30e6fa98fb48c2b132824d1ac5e2243c0be9e9082ff32598d34d7687ca7f6c7f',
  'empty 3': '30e6fa98fb48c2b132824d1ac5e2243c0be9e9082ff32598d34d7687ca7f6c7f',
  'empty 4': '30e6fa98fb48c2b132824d1ac5e2243c0be9e9082ff32598d34d7687ca7f6c7f',
  'empty 5': '30e6fa98fb48c2b132824d1ac5e2243c0be9e9082ff32598d34d7687ca7f6c7f',
  'empty 6': '30e6fa98fb48c2b132824d1ac5e2243c0be9e9082ff32598d34d7687ca7f6c7f',
  'empty 7': '30e6fa98fb48c2b132824d1ac5e2243c0be9e9082ff32598d34d7687ca7f6c7f',
  'empty 8': '30e6fa98fb48c2b132824d1ac5e2243c0be9e9082ff32598d34d7687ca7f6c7f',
  'empty 9': '10c2221846da8b4250e556aa520c86d6674614d7c5874d8b9cb7f26d62835036',
  'one-byte -2': 'ade9efdac97d5d22808b19558a6cff02fb7de12e15df828c9d0c38e2b6a400c3',
  'one-byte 0': 'ade9efdac97d5d22808b19558a6cff02fb7de12e15df828c9d0c38e2b6a400c3',
  'one-byte 1': '2b3843da9cf6852170bc3d756fad5e1602882bc8f5ccad0cd4672f3c0689b445',
  'one-byte 6': 'f1a7c8e8de042bc4fa970708757b62042de31814df7516c674d1379535f4ec21',
  'one-byte 9': 'fcb0c6c17cdb5fae5e897d85bbdc9f3559f638823824b62791d08fd5d0f73488',
  'zeros-1MiB -2': '5fde2cadf5cfc7b0eaf38e5ac55c75249e357ce6b83da3127761a1be67f1ee79',
  'zeros-1MiB 0': '50a51f1b2fac06ca484d06cf0c3d5a50a781e10bccf57657aa854931aa705a4a',
  'zeros-1MiB 1': 'ccd20d1275ae050f6977c9075e4c389f03088f72eebc2957d15ebe5c4b85353b',
  'zeros-1MiB 6': '64cb7adeb18e24aa7f6ef84731903842cb32ca8137768de4692f5e3a886b916b',
  'zeros-1MiB 9': '52788953e8247bf4aab3124e33e5826da05c49362b7f076945e66681e82d1761',
  'random-200KiB -2': 'a124e39b48acdc4959a60f165d707992792f3f7500fb1247648cc77cea46f949',
  'random-200KiB 0': 'a124e39b48acdc4959a60f165d707992792f3f7500fb1247648cc77cea46f949',
  'random-200KiB 1': '2a161733033d639a3e2aa7d99789b43f3fd57573932fb87ebb8b9642c1a5560c',
  'random-200KiB 6': '743f1ca53d722f467db4a0c09d562edb8f5d3b974e213c0f91278597d310e5cb',
  'random-200KiB 9': '0e8ee247f2c02baf3157b648f81d16df7014d60593c2396b163cc57b62964902',
  'text-300KiB -2': '40941eaacc391fedb3b015fe88e7bbe0ef8f352504a1baa67b3b7780416dd9ce',
  'text-300KiB -1': 'b309e195829f02809a6c752daa7ddb5b6eee9b44a1d988d38ec5954e6cfa49b8',
  'text-300KiB 0': '78bf26437c7e21a6d42d4fa9f7f544027a1e2f0f6233670d1d3310f342abb1ec',
  'text-300KiB 1': 'f6b70e879b4ff6be9f7711388b8dfe09200f544053aaaad64f836835ec0cd4ce',
  'text-300KiB 2': 'a30fcf6083e970305d0edf68c749a39edf517ab6cdebafc532b4c324f1a83f20',
  'text-300KiB 3': '8319924b7035d4ed7af93f5e3dac5559257cdb632bdedb19aac3865ee68befc3',
  'text-300KiB 4': '4f4e77e9bface29bd5e0258e6aa1c06cef5123e64f08c16b5755fbf6bd7b5b8a',
  'text-300KiB 5': '7168e8dc68830d2b65f11a556d24180f412547bc7a860a10659af060ffd42bb1',
  'text-300KiB 6': 'b309e195829f02809a6c752daa7ddb5b6eee9b44a1d988d38ec5954e6cfa49b8',
  'text-300KiB 7': '392533e7a86a00328e1070c1e1a8549bea02054507615c448f35490c4796f936',
  'text-300KiB 8': '40d9e357e6a49b203530bf5978e9559726550f33e82f29b3612815418d3c56ef',
  'text-300KiB 9': '34344ddb75915805aab2b8ecd4b2c5278f6e2797b4d5e570847e1c5f15dc7141',
  'near-window-150KiB -2': 'b130457a66b09914feb6b0fdab603f75298a8a311d3c2d9f6fd80673d4ad0103',
  'near-window-150KiB -1': '15ac0d777281356fc7abddad13570ebdec437d64693463f4a438bdaf74605e64',
  'near-window-150KiB 0': 'b130457a66b09914feb6b0fdab603f75298a8a311d3c2d9f6fd80673d4ad0103',
  'near-window-150KiB 1': 'c5fc07f36eb5c7b46f2048edb8f201275a8a55dc5320f0d6638618ad318d5565',
  'near-window-150KiB 2': '7c176fb1c942cf9e9ce46fc74d66633fcbe0a8a32bb77586daf927f2be7a0389',
  'near-window-150KiB 3': '2c6ac1f64164fb78b74097b526b69abd77b09f955c7da2cc4cd332c65562c92c',
  'near-window-150KiB 4': '6ec20ba3401f36a78582773d00fe1c4404004724b3fe6305b496de605482beb8',
  'near-window-150KiB 5': '15ac0d777281356fc7abddad13570ebdec437d64693463f4a438bdaf74605e64',
  'near-window-150KiB 6': '15ac0d777281356fc7abddad13570ebdec437d64693463f4a438bdaf74605e64',
  'near-window-150KiB 7': '15ac0d777281356fc7abddad13570ebdec437d64693463f4a438bdaf74605e64',
  'near-window-150KiB 8': '15ac0d777281356fc7abddad13570ebdec437d64693463f4a438bdaf74605e64',
  'near-window-150KiB 9': 'f5ab5f0bd51807b315a0d6aca035f2b991b4553bf6442caf7f0338a905f18218',
  'mixed-4.5MiB -2': '25e107e05a2c2ce072c1ac2e5d886be3bc342dabea6a14fad27598fce121d9ac',
  'mixed-4.5MiB 0': 'c0cc97fcf3ef0b7504efcba827a3e12f7e74d15d633c908c6c45cb16738b9cf0',
  'mixed-4.5MiB 1': '8b6f620ede560ec5d747daa2f356b95ece33a165c8729b2d953d229a07c339ed',
  'mixed-4.5MiB 6': '9ca180969f2cdf7a5723d0b99ae8ef3fd97fcb672f373b1b254e50d105056e2f',
  'mixed-4.5MiB 9': '1d5dbc80f9aea493f054c98bbc97a1abbf8d062911473e9e6396e2179a5f70b5',
  'empty+flush -2': 'cd234122fe4b70dd43c9d67f65557616ac1900be36c9011d3232830a0c013835',
  'empty+flush 0': 'cd234122fe4b70dd43c9d67f65557616ac1900be36c9011d3232830a0c013835',
  'empty+flush 1': '96d7c7f01a7c3e4032933eee8609e940f3716ff3453f9101bb0d3d98b863401c',
  'empty+flush 6': 'cd234122fe4b70dd43c9d67f65557616ac1900be36c9011d3232830a0c013835',
  'empty+flush 9': 'd161f2291c0a719c0446b8b88433c38e356c72e012c1455e61dac9729891c082',
  'one-byte+flush -2': '84979e943d86a41dd4488a52602770721cb7605ffa0cb0d9cd1757d92826f31b',
  'one-byte+flush 0': '84979e943d86a41dd4488a52602770721cb7605ffa0cb0d9cd1757d92826f31b',
  'one-byte+flush 1': '05bf4ffceac625e4657d25bc072e5824b9fe201a053fe39cd653dc19569c7700',
  'one-byte+flush 6': 'efbe4bb80e481e4c1819b1c5a756be02b63fd638ecc32f8d28ed4e493d423c0c',
  'one-byte+flush 9': '1859d82ee8b5a939291d65656256e8db11be8842a5b63bccab988556be85e14a',
  'zeros-1MiB+flush -2': 'e35593bec36e7f27844745c57d2787bda70b57cc6b0fd122f5516f55e3aaea35',
  'zeros-1MiB+flush 0': '969927c2cf1612a35b5c9adf91182558f08b0e8f6c9d3085a6ec346c944aa2a3',
  'zeros-1MiB+flush 1': '5d09cc3626e894f0c3eb00db37d58407821b7547a6fb28a655c556bb99aadc78',
  'zeros-1MiB+flush 6': 'b8c1fb10644d00213e68674d2498fb3d51b6df26ee926957be834ecbace915d1',
  'zeros-1MiB+flush 9': '8e3d57371321185c8dfd7b1380f995dd24df87b7c9945f06c00e16168d9a235c',
  'random-200KiB+flush -2': 'cc3c6c1b00e97a6bac38f1d93274ec590ed83cacf4e1138a16f882c787d5ba78',
  'random-200KiB+flush 0': 'cc3c6c1b00e97a6bac38f1d93274ec590ed83cacf4e1138a16f882c787d5ba78',
  'random-200KiB+flush 1': '862af78ce4ee5c202c41de48aacca3e88ae3619508efa2ab58570268617a88bd',
  'random-200KiB+flush 6': 'd3cbd9883b842a75f7105b5dddf4f668e3e2e47c1766e286627f35c0ad9bbb74',
  'random-200KiB+flush 9': 'd58e40851a84f243160a13f523d309f99ec4bd969e241088608a3687719c6dd6',
  'text-300KiB+flush -2': '297595b017404cc54022175b009e8f7bd08c57180ebf66df319b43ebb751c421',
  'text-300KiB+flush 0': 'ab08d51de66d09803e2f9a316cec26b8631c1a5e4987fb820e915df978a64521',
  'text-300KiB+flush 1': '7f48b1bb14cc0f213bc2ba285139c80d3bd725edf6d0fd25fbd8b10b291f35ab',
  'text-300KiB+flush 6': '2674a78654bdaf343ac9702a6bbd92b5ddc8bd76dee9b657cdc0df7e56070de3',
  'text-300KiB+flush 9': '4716cf6a6f0c3b27267c3a25d96140e20aec80c9caec01afa821f3b5b67f7b5d',
}

function xorshift(seed: number): () => number {
  let x = seed >>> 0
  return () => {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    return x
  }
}

function random(seed: number, n: number): Uint8Array {
  const next = xorshift(seed)
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = next() & 0xff
  return b
}

const WORDS = 'the quick brown fox jumps over lazy dog layer image container blob digest manifest index config tar gzip estargz chunk file usr lib bin etc share'.split(' ')

function text(seed: number, n: number): Uint8Array {
  const next = xorshift(seed)
  const parts: string[] = []
  let len = 0
  while (len < n) {
    const r = next()
    const w = WORDS[r % WORDS.length]!
    parts.push(w, r >>> 24 < 20 ? '\n' : ' ')
    len += w.length + 1
  }
  return new Uint8Array(Buffer.from(parts.join('')).subarray(0, n))
}

function nearWindow(seed: number, n: number): Uint8Array {
  const next = xorshift(seed)
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    if (i >= 32768 && next() % 64 !== 0) b[i] = b[i - 32768 + (next() % 3)]!
    else b[i] = next() & 0xff
  }
  return b
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

const COMMON = [-2, 0, 1, 6, 9]
const ALL = [-2, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
const INPUTS: Array<[string, () => Uint8Array, number[]]> = [
  ['empty', () => new Uint8Array(0), ALL],
  ['one-byte', () => Uint8Array.of(0x61), COMMON],
  ['zeros-1MiB', () => new Uint8Array(1 << 20).fill(0x7a), COMMON],
  ['random-200KiB', () => random(1, 200 << 10), COMMON],
  ['text-300KiB', () => text(2, 300 << 10), ALL],
  ['near-window-150KiB', () => nearWindow(3, 150 << 10), ALL],
  ['mixed-4.5MiB', () => concat(text(4, 2 << 20), random(5, 1 << 20), text(6, 1536 << 10)), COMMON],
]

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

describe('gzip member writer (Go compress/gzip bytes)', () => {
  for (const [name, make, levels] of INPUTS) {
    it(`${name} at levels ${levels.join(',')}`, () => {
      const data = make()
      for (const level of levels) {
        const out = gzipMember(data, level)
        expect(`${name} ${level} ${sha256(out)}`).toBe(`${name} ${level} ${GO_DIGESTS[`${name} ${level}`]}`)
        expect(Buffer.compare(gunzipSync(out), data)).toBe(0)
      }
    })
  }

  for (const [name, make] of INPUTS.slice(0, 5)) {
    it(`${name} flushed before close`, () => {
      const data = make()
      for (const level of COMMON) {
        const out = gzipMember(data, level, true)
        expect(`${name}+flush ${level} ${sha256(out)}`).toBe(`${name}+flush ${level} ${GO_DIGESTS[`${name}+flush ${level}`]}`)
        expect(Buffer.compare(gunzipSync(out), data)).toBe(0)
      }
    })
  }

  it('gives the same bytes however the input is split across writes', () => {
    const data = concat(text(7, 200 << 10), random(8, 70 << 10), text(9, 100 << 10))
    for (const level of [-2, 0, 1, 6, 9]) {
      const whole = gzipMember(data, level)
      const next = xorshift(level + 10)
      const m = new GzipMember(level)
      const pieces: Uint8Array[] = []
      for (let p = 0; p < data.length; ) {
        const n = Math.min(data.length - p, 1 + (next() % 40000))
        m.write(data.subarray(p, p + n))
        p += n
        if (next() % 4 === 0) pieces.push(m.take())
      }
      pieces.push(m.close())
      expect(sha256(concat(...pieces))).toBe(sha256(whole))
    }
  })

  it('rejects levels Go rejects', () => {
    expect(() => new GzipMember(10)).toThrow(GzipLevelError)
    expect(() => new GzipMember(-3)).toThrow(GzipLevelError)
  })
})
