// What ipcr gc chooses to unpin (src/gc/plan.ts): past --keep-age, then least recently pulled
// first until --keep-size holds; never an image containerd holds or the cluster keeps.
import { describe, expect, it } from 'vitest'
import { planCollection, type PinnedImage } from '../../src/gc/plan.js'

const day = 86_400_000
const now = 100 * day
const img = (image: string, size: number, daysAgo: number, keep?: string): PinnedImage => ({
  image, containerd: '/run/c.sock', namespace: 'default', root: `root-${image}`, size, lastPulled: now - daysAgo * day, ...(keep ? { keep } : {}),
})

describe('gc plan', () => {
  const images = [img('a', 400, 9), img('b', 300, 1), img('c', 200, 5, 'containerd holds it'), img('d', 100, 7), img('e', 50, 8, 'IPFS Cluster is asked to keep it')]

  it('unpins the least recently pulled first, skipping what must stay, until the size bound holds', () => {
    const plan = planCollection(images, { keepSize: 600 }, now)
    expect(plan.total).toBe(1050)
    // a (9 days) then d (7 days; e is older but the cluster keeps it): 550 left, within 600, so b stays.
    expect(plan.remove.map((i) => i.image)).toEqual(['a', 'd'])
    expect(plan.after).toBe(550)
  })

  it('goes on to the next candidate while over the bound, and stops over it when only kept images remain', () => {
    const plan = planCollection(images, { keepSize: 100 }, now)
    expect(plan.remove.map((i) => i.image)).toEqual(['a', 'd', 'b'])
    expect(plan.after).toBe(250) // c and e must stay: over the bound, and said so
  })

  it('unpins by age alone, and by age then size', () => {
    expect(planCollection(images, { keepAgeMs: 6 * day }, now).remove.map((i) => i.image).sort()).toEqual(['a', 'd'])
    expect(planCollection(images, { keepAgeMs: 8.5 * day, keepSize: 600 }, now).remove.map((i) => i.image)).toEqual(['a', 'd'])
  })

  it('changes nothing within the bounds', () => {
    expect(planCollection(images, { keepSize: 2000, keepAgeMs: 30 * day }, now).remove).toEqual([])
  })
})
