import { describe, expect, it } from 'vitest'
import { failOnStall } from '../../src/util/stall.js'

describe('failOnStall', () => {
  it('passes a stream that keeps moving', async () => {
    async function* slowButSteady(): AsyncGenerator<number> {
      for (let i = 0; i < 5; i++) { await new Promise((r) => setTimeout(r, 20)); yield i }
    }
    const got: number[] = []
    for await (const x of failOnStall(slowButSteady(), 200, () => new Error('stalled'))) got.push(x)
    expect(got).toEqual([0, 1, 2, 3, 4])
  })

  it('fails a stream that goes silent, without waiting for it', async () => {
    async function* stops(): AsyncGenerator<number> {
      yield 1
      await new Promise(() => {}) // never settles, as a stalled bitswap transfer
    }
    const got: number[] = []
    const run = (async () => { for await (const x of failOnStall(stops(), 100, () => new Error('no data for 0.1 s'))) got.push(x) })()
    await expect(run).rejects.toThrow('no data for 0.1 s')
    expect(got).toEqual([1])
  })
})
