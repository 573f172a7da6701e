import { describe, expect, it } from 'vitest'
import { mkdtemp, stat } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KuboClient } from '../../src/ipfs/kubo.js'
import { PinLedger, PinQuery, pinPulledImage, planRelease, releaseImagePins, withPull, type PinRecord } from '../../src/ipfs/pins.js'

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
    await ledger.update(() => [rec('x', ['c1'], ['c1'], 'nodeB')])
    let opened = 0
    const none = await releaseImagePins(ledger, [{ ...where, image: 'never-pulled' }], async () => { opened++; return undefined })
    expect(none).toEqual({ unpinned: [], left: [] })
    expect(opened).toBe(0)
    const r = await releaseImagePins(ledger, [{ ...where, image: 'x' }], async () => { opened++; throw new Error('connection refused') })
    expect(opened).toBe(1)
    expect(r.left).toEqual([{ node: 'nodeB', cids: ['c1'], why: 'connection refused' }])
    expect(await ledger.list()).toEqual([rec('x', ['c1'], ['c1'], 'nodeB')])
  })

  it('asks kubo about pins while a pull runs, pins only what is missing, and rewrites the ledger only when it changes', async () => {
    // A stand-in for kubo's id, pin/ls and pin/add, recording the calls.
    const pins = new Set(['c1'])
    const calls: string[] = []
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const args = url.searchParams.getAll('arg')
      calls.push(`${url.pathname.slice(8)} ${args.join(',')}`)
      res.setHeader('content-type', 'application/json')
      if (url.pathname === '/api/v0/id') return void res.end('{"ID":"nodeA"}')
      if (url.pathname === '/api/v0/pin/add') { args.forEach((a) => pins.add(a)); return void res.end(JSON.stringify({ Pins: args })) }
      const cid = args[0] as string
      if (pins.has(cid)) return void res.end(JSON.stringify({ Keys: { [cid]: { Type: 'recursive' } } }))
      res.statusCode = 500
      res.end(JSON.stringify({ Message: `path '${cid}' is not pinned`, Type: 'error' }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const kubo = new KuboClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
    try {
      const root = await mkdtemp(join(tmpdir(), 'ipcr-pins-'))
      const ledger = new PinLedger(root)
      const image = { ...where, image: 'img' }
      // The pull meets c1 and c2 while it runs: kubo is asked then, and not again at the end.
      const query = new PinQuery(kubo.pinning)
      await Promise.all([query.isPinned('c1'), query.isPinned('c2'), query.node])
      const asked = calls.length
      expect(await pinPulledImage(query, ledger, image, ['c1', 'c2'])).toEqual({ node: 'nodeA', pinned: ['c2'] })
      expect(calls.slice(asked)).toEqual(['pin/add c2'])
      expect((await ledger.list()).map((r) => [r.cids, r.owned])).toEqual([[['c1', 'c2'], ['c2']]])
      const file = join(root, 'pins.json')
      const before = await stat(file)
      // The same pull again pins nothing and leaves the ledger file as it was.
      expect((await pinPulledImage(new PinQuery(kubo.pinning), ledger, image, ['c2', 'c1'])).pinned).toEqual([])
      expect((await stat(file)).ino).toBe(before.ino)
      // Another set of CIDs under the same name is recorded; what the first pull owned stays owned.
      expect((await pinPulledImage(new PinQuery(kubo.pinning), ledger, image, ['c1', 'c3'])).pinned).toEqual(['c3'])
      expect((await stat(file)).ino).not.toBe(before.ino)
      expect((await ledger.list()).map((r) => [r.cids, r.owned])).toEqual([[['c1', 'c3'], ['c2', 'c3']]])
    } finally {
      await kubo.close()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})
