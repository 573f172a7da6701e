// kubo's add is checked against our profile: the DAG it names must be the one the profile makes of
// the bytes sent (profile-shape.ts). Real kubo cannot be made to disagree while we send explicit
// parameters, so a stand-in HTTP server answers add (and block/get) with DAGs built by the importer
// under our profile and under others; what is tested is the check and its message, and that the
// whole body was streamed with the profile's parameters.
import { afterEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { CidMismatchError, KuboClient } from '../../src/ipfs/kubo.js'
import { cidOf, cidText, type CID } from '../../src/ipfs/cid.js'
import { importerOptions } from '../../src/ipfs/profile.js'
import { once } from '../../src/util/once.js'

let server: http.Server | undefined
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())))

function fakeKubo(answer: (body: Buffer, url: URL) => string | Uint8Array): Promise<string> {
  server = http.createServer((req, res) => {
    const parts: Buffer[] = []
    req.on('data', (b: Buffer) => parts.push(b))
    req.on('end', () => {
      res.setHeader('content-type', 'application/json')
      res.end(answer(Buffer.concat(parts), new URL(req.url ?? '/', 'http://x')))
    })
  })
  return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server!.address() as AddressInfo).port}`)))
}

describe('KuboClient.add', () => {
  it('accepts kubo’s CID when it equals ours and sends the explicit profile', async () => {
    const data = Buffer.from('hello ipcr')
    const expected = cidText(await cidOf(data))
    let seen: URL | undefined
    const kubo = new KuboClient(await fakeKubo((body, url) => { seen = url; expect(body.includes(data)).toBe(true); return `{"Name":"blob","Hash":"${expected}","Size":"10"}\n` }))
    expect(cidText(await kubo.add(once(data)))).toBe(expected)
    for (const [k, v] of Object.entries({ 'cid-version': '1', 'raw-leaves': 'true', chunker: 'size-262144', 'max-file-links': '174', trickle: 'false', hash: 'sha2-256', inline: 'false', pin: 'true' })) {
      expect(seen?.searchParams.get(k)).toBe(v)
    }
    await kubo.close()
  })

  it('refuses a different CID for a one-chunk file and says how to fix the repo', async () => {
    const other = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
    const kubo = new KuboClient(await fakeKubo(() => `{"Name":"blob","Hash":"${other}","Size":"10"}\n`))
    const err = await kubo.add(once(Buffer.from('hello ipcr'))).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CidMismatchError)
    expect((err as Error).message).toMatch(new RegExp(`gave CID ${other} for 10 bytes, which is not what the default UnixFS profile makes of them.*Import settings.*ipfs config`))
    await kubo.close()
  })

  it('refuses a raw block that does not hash to the bytes sent', async () => {
    const wrong = cidText(await cidOf(Buffer.from('other bytes')))
    const kubo = new KuboClient(await fakeKubo(() => `{"Name":"blob","Hash":"${wrong}","Size":"10"}\n`))
    await expect(kubo.add(once(Buffer.from('hello ipcr')))).rejects.toThrow(/does not hash to the bytes sent/)
    await kubo.close()
  })

  // 180 full chunks and a short one: two levels of inner nodes (174 links at most), 3 inner blocks.
  const big = Buffer.alloc(180 * 262_144 + 1000)
  for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i)

  /** A stand-in kubo whose add answers the DAG `build` makes of the body, and whose block/get serves its blocks. */
  async function kuboWithDag(build: (data: Buffer, sink: Map<string, Uint8Array>) => Promise<CID>, tamper?: (blocks: Map<string, Uint8Array>, root: string) => void): Promise<{ kubo: KuboClient; gets: string[] }> {
    const blocks = new Map<string, Uint8Array>()
    const root = cidText(await build(big, blocks))
    tamper?.(blocks, root)
    const gets: string[] = []
    const kubo = new KuboClient(await fakeKubo((_body, url) => {
      if (url.pathname === '/api/v0/add') return `{"Name":"blob","Hash":"${root}","Size":"${big.length}"}\n`
      const arg = url.searchParams.get('arg') as string
      gets.push(arg)
      return blocks.get(arg) as Uint8Array
    }))
    return { kubo, gets }
  }
  const profileDag = (data: Buffer, sink: Map<string, Uint8Array>): Promise<CID> => cidOf(data, { put: (cid, bytes) => sink.set(cidText(cid), bytes) })
  const otherDag = (changes: Record<string, unknown>) => async (data: Buffer, sink: Map<string, Uint8Array>): Promise<CID> => {
    const { importer } = await import('ipfs-unixfs-importer')
    const store = { put: async (cid: CID, bytes: Uint8Array) => { sink.set(cidText(cid), bytes); return cid } }
    let root: CID | undefined
    for await (const e of importer([{ content: [data] }], store as never, { ...(await importerOptions()), ...changes })) root = e.cid
    return root as CID
  }

  it('accepts a many-chunk DAG of our profile, reading only its inner blocks', async () => {
    const { kubo, gets } = await kuboWithDag(profileDag)
    expect(cidText(await kubo.add(once(big)))).toBe(cidText(await cidOf(big)))
    expect(gets).toHaveLength(3) // the root and its two children; no leaf was fetched
    await kubo.close()
  })

  it('refuses many-chunk DAGs made with another chunker, layout, leaf kind or CID version', async () => {
    const { fixedSize } = await import('ipfs-unixfs-importer/chunker')
    const { balanced, trickle } = await import('ipfs-unixfs-importer/layout')
    for (const [what, changes, message] of [
      ['1 MiB chunks', { chunker: fixedSize({ chunkSize: 1 << 20 }) }, /has 46 links where a balanced tree of 174 links and 262144-byte chunks has 2/],
      ['1024 links', { layout: balanced({ maxChildrenPerNode: 1024 }) }, /has 181 links where .* has 2/],
      ['trickle', { layout: trickle() }, /has 175 links where .* has 2/],
      ['dag-pb leaves', { rawLeaves: false }, /leaf .* is CIDv1 codec 0x70/],
      ['CIDv0', { cidVersion: 0, rawLeaves: false }, /inner node .* is CIDv0/],
    ] as const) {
      const { kubo } = await kuboWithDag(otherDag(changes))
      const err = await kubo.add(once(big)).catch((e: unknown) => e)
      expect(err, what).toBeInstanceOf(CidMismatchError)
      expect((err as Error).message, what).toMatch(message)
      await kubo.close()
      await new Promise<void>((r) => server!.close(() => r()))
      server = undefined
    }
  })

  it('refuses an inner block that does not hash to its CID', async () => {
    const { kubo } = await kuboWithDag(profileDag, (blocks, root) => {
      const b = Buffer.from(blocks.get(root) as Uint8Array)
      b.writeUInt8(b.readUInt8(b.length - 1) ^ 1, b.length - 1)
      blocks.set(root, b)
    })
    await expect(kubo.add(once(big))).rejects.toThrow(/block .* does not hash to its CID/)
    await kubo.close()
  })
})
