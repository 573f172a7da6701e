import { describe, expect, it } from 'vitest'
import { tee } from '../../src/util/tee.js'

async function* count(n: number, seen: number[]): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) { seen.push(i); yield i }
}

describe('tee', () => {
  it('gives both readers every item and keeps the fast one within maxLag', async () => {
    const pulled: number[] = []
    const { branches: [a, b] } = tee(count(100, pulled), 4)
    const gotA: number[] = []
    const gotB: number[] = []
    let maxAhead = 0
    await Promise.all([
      (async () => { for await (const x of a) { gotA.push(x); maxAhead = Math.max(maxAhead, gotA.length - gotB.length) } })(),
      (async () => { for await (const x of b) { gotB.push(x); await new Promise((r) => setTimeout(r, 1)) } })(),
    ])
    expect(gotA).toEqual([...Array(100).keys()])
    expect(gotB).toEqual(gotA)
    expect(maxAhead).toBeLessThanOrEqual(6)
  })

  it('propagates a source failure to both readers', async () => {
    async function* bad(): AsyncGenerator<number> { yield 1; throw new Error('boom') }
    const { branches: [a, b] } = tee(bad())
    const drain = async (g: AsyncIterable<number>): Promise<void> => { for await (const _ of g) { /* consume */ } }
    await expect(Promise.all([drain(a), drain(b)])).rejects.toThrow('boom')
  })
})
