import { describe, expect, it } from 'vitest'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PinLedger, planRelease, releaseImagePins, withPull, type PinRecord } from '../../src/ipfs/pins.js'

const where = { containerd: '/run/containerd/containerd.sock', namespace: 'default' }
const rec = (image: string, cids: string[], owned: string[], node = 'nodeA'): PinRecord => ({ ...where, node, image, cids, owned, pinnedAt: '2026-01-01T00:00:00Z' })

describe('the pin ledger behind rpull --pin and image rm', () => {
  it('unpins only what the removed image owned and no other image uses', () => {
    const records = [rec('x', ['root-x', 'shared', 'only-x', 'pushed'], ['root-x', 'shared', 'only-x']), rec('y', ['root-y', 'shared'], ['root-y'])]
    const { unpin, remaining } = planRelease(records, [{ ...where, image: 'x' }])
    expect(unpin.get('nodeA')).toEqual(['root-x', 'only-x'])
    // y still uses the shared layer: y now owns it, so removing y later unpins it.
    expect(remaining).toEqual([rec('y', ['root-y', 'shared'], ['root-y', 'shared'])])
    expect(planRelease(remaining, [{ ...where, image: 'y' }]).unpin.get('nodeA')).toEqual(['root-y', 'shared'])
  })

  it('never unpins a CID that was pinned before rpull came to it (a push, the user)', () => {
    const { unpin } = planRelease([rec('x', ['root', 'pushed-layer'], ['root'])], [{ ...where, image: 'x' }])
    expect(unpin.get('nodeA')).toEqual(['root'])
  })

  it('pins are per kubo node: an image in another namespace on the same node keeps a shared CID pinned', () => {
    const records = [rec('x', ['c1'], ['c1'], 'nodeA'), rec('x', ['c1'], ['c1'], 'nodeB'), { ...rec('x', ['c1'], []), namespace: 'other' }]
    const { unpin, remaining } = planRelease(records, [{ ...where, image: 'x' }])
    expect([...unpin.entries()]).toEqual([['nodeB', ['c1']]])
    expect(remaining).toEqual([{ ...rec('x', ['c1'], ['c1']), namespace: 'other' }])
  })

  it('a re-pull of the same name keeps what the earlier pull owned', () => {
    const first = withPull([], { ...where, node: 'nodeA', image: 'x', cids: ['a', 'b'], pinnedAt: 't1' }, ['a', 'b'])
    const second = withPull(first, { ...where, node: 'nodeA', image: 'x', cids: ['a', 'c'], pinnedAt: 't2' }, ['c'])
    expect(second).toHaveLength(1)
    expect(second[0]?.owned).toEqual(['a', 'b', 'c'])
    expect(second[0]?.cids).toEqual(['a', 'c'])
  })

  it('does not contact kubo when the removed images pinned nothing, and keeps records of nodes it cannot reach', async () => {
    const ledger = new PinLedger(await mkdtemp(join(tmpdir(), 'ipcr-pins-')))
    await ledger.save([rec('x', ['c1'], ['c1'], 'nodeB')])
    let opened = 0
    const none = await releaseImagePins(ledger, [{ ...where, image: 'never-pulled' }], async () => { opened++; return undefined })
    expect(none).toEqual({ unpinned: [], left: [] })
    expect(opened).toBe(0)
    const r = await releaseImagePins(ledger, [{ ...where, image: 'x' }], async () => { opened++; throw new Error('connection refused') })
    expect(opened).toBe(1)
    expect(r.left).toEqual([{ node: 'nodeB', cids: ['c1'], why: 'connection refused' }])
    expect(await ledger.list()).toEqual([rec('x', ['c1'], ['c1'], 'nodeB')])
  })
})
