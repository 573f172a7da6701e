import { describe, expect, it } from 'vitest'
import { Tap } from '../../src/util/tap.js'

async function* count(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i
}

async function drain<T>(source: AsyncIterable<T>, each?: () => Promise<void>): Promise<T[]> {
  const out: T[] = []
  for await (const x of source) { out.push(x); await each?.() }
  return out
}

describe('Tap', () => {
  it('gives the reader every item the owner pulls, keeping the owner within maxLag of it', async () => {
    const tap = new Tap<number>(4)
    let ownerAhead = 0
    let read = 0
    const owner = (async () => {
      let n = 0
      for await (const _ of tap.through(count(100))) { n++; ownerAhead = Math.max(ownerAhead, n - read) }
      return n
    })()
    const reader = drain(tap, async () => { read++; await new Promise((r) => setTimeout(r, 1)) })
    expect(await owner).toBe(100)
    expect(await reader).toEqual([...Array(100).keys()])
    expect(ownerAhead).toBeLessThanOrEqual(6)
  })

  it('lets the owner go on alone once the reader stops, or when it never reads', async () => {
    const never = new Tap<number>(2)
    never.stop()
    expect(await drain(never.through(count(50)))).toHaveLength(50)

    const early = new Tap<number>(2)
    const owner = drain(early.through(count(50)))
    for await (const x of early) if (x === 3) break
    expect(await owner).toHaveLength(50)
  })

  it('tells the reader when no items will come, and passes a source failure on', async () => {
    const resumed = new Tap<number>()
    resumed.fail(new Error('resumed at byte 7'))
    await expect(drain(resumed)).rejects.toThrow('resumed at byte 7')
    // Once failed, the owner's stream is not tapped at all.
    expect(await drain(resumed.through(count(3)))).toEqual([0, 1, 2])

    const broken = new Tap<number>()
    async function* bad(): AsyncGenerator<number> { yield 1; throw new Error('kubo went away') }
    const reader = drain(broken)
    await expect(drain(broken.through(bad()))).rejects.toThrow('kubo went away')
    await expect(reader).rejects.toThrow('kubo went away')
  })

  it('fails the reader when the owner abandons the stream midway, and ignores fail() after the end', async () => {
    const tap = new Tap<number>()
    const reader = drain(tap)
    for await (const x of tap.through(count(10))) if (x === 2) break
    await expect(reader).rejects.toThrow('abandoned')

    const done = new Tap<number>()
    const all = drain(done)
    await drain(done.through(count(5)))
    done.fail(new Error('too late'))
    expect(await all).toEqual([0, 1, 2, 3, 4])
  })
})
