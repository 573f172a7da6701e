// kubo's add is checked against our own CID. Real kubo cannot be made to disagree while we send
// explicit parameters, so a stand-in HTTP server answers add with another CID; what is tested is
// our comparison and message, and that the whole body was streamed with the profile's parameters.
import { afterEach, describe, expect, it } from 'vitest'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { CidMismatchError, KuboClient } from '../../src/ipfs/kubo.js'
import { cidOf, cidText } from '../../src/ipfs/cid.js'
import { once } from '../../src/util/once.js'

let server: http.Server | undefined
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())))

function fakeKubo(answer: (body: Buffer, url: URL) => string): Promise<string> {
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

  it('refuses a different CID and says how to fix the repo', async () => {
    const other = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
    const kubo = new KuboClient(await fakeKubo(() => `{"Name":"blob","Hash":"${other}","Size":"10"}\n`))
    const err = await kubo.add(once(Buffer.from('hello ipcr'))).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(CidMismatchError)
    expect((err as Error).message).toMatch(new RegExp(`gave CID ${other} where the default UnixFS profile gives bafkrei.*Import settings.*ipfs config`))
    await kubo.close()
  })
})
