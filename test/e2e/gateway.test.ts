// rpull through kubo's trustless gateway on loopback, with no kubo API configured: it pulls and runs.
// Through a proxy that flips one byte of one block it fails naming that block's CID and leaves
// containerd empty; with a good gateway listed after the bad one, it pulls. An HTTPS gateway whose
// certificate comes from a private CA is trusted through NODE_EXTRA_CA_CERTS, as Node users expect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ctr, ipfs, rigEnv, wipeContainerd } from '../support/rig.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'
import { uniqueImage, type UniqueImage } from '../support/unique-image.js'

let img: UniqueImage
let root: string
let leaf: string
let proxy: http.Server | undefined
let proxyUrl: string
let tlsProxy: https.Server | undefined
let tlsProxyUrl: string
/** The private CA that signed tlsProxy's certificate (PEM file). */
let caFile: string
let flipped = 0
/** No kubo API anywhere: IPFS_PATH names an empty directory. */
let noKubo: NodeJS.ProcessEnv

/** Forwards to kubo's gateway, flipping one byte wherever the bytes of block `leaf` pass through. */
async function startProxy(target: string, leafBytes: Buffer): Promise<void> {
  const needle = leafBytes.subarray(4096, 4160)
  proxy = http.createServer((req, res) => {
    const up = http.get(`${target}${req.url ?? ''}`, { headers: { accept: req.headers.accept ?? '*/*' } }, (upRes) => {
      const chunks: Buffer[] = []
      upRes.on('data', (c: Buffer) => chunks.push(c))
      upRes.on('end', () => {
        const body = Buffer.concat(chunks)
        const at = body.indexOf(needle)
        if (at >= 0) { body[at + 7] = (body[at + 7] as number) ^ 0x20; flipped++ }
        const headers = { ...upRes.headers }
        delete headers['transfer-encoding']
        res.writeHead(upRes.statusCode ?? 502, { ...headers, 'content-length': body.length })
        res.end(body)
      })
    })
    up.on('error', () => res.destroy())
  })
  await new Promise<void>((r) => proxy?.listen(0, '127.0.0.1', () => r()))
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
}

/** A CA of our own and a certificate it signs for 127.0.0.1 (EC keys: quick to make). */
async function privateCa(dir: string): Promise<{ caFile: string; key: Buffer; cert: Buffer }> {
  const f = (name: string) => join(dir, name)
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=ipcr test CA'], { stdio: 'ignore' })
  execFileSync('openssl', ['req', ...ec, '-keyout', f('gw.key'), '-out', f('gw.csr'), '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' })
  await writeFile(f('gw.ext'), 'subjectAltName=IP:127.0.0.1\n')
  execFileSync('openssl', ['x509', '-req', '-in', f('gw.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('gw.pem'), '-days', '2', '-extfile', f('gw.ext')], { stdio: 'ignore' })
  return { caFile: f('ca.pem'), key: await readFile(f('gw.key')), cert: await readFile(f('gw.pem')) }
}

/** Serves kubo's gateway over HTTPS with a certificate from our private CA. */
async function startTlsProxy(target: string, dir: string): Promise<void> {
  const tls = await privateCa(dir)
  caFile = tls.caFile
  tlsProxy = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    const up = http.get(`${target}${req.url ?? ''}`, { headers: { accept: req.headers.accept ?? '*/*' } }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers)
      upRes.pipe(res)
    })
    up.on('error', () => res.destroy())
  })
  await new Promise<void>((r) => tlsProxy?.listen(0, '127.0.0.1', () => r()))
  tlsProxyUrl = `https://127.0.0.1:${(tlsProxy.address() as AddressInfo).port}`
}

beforeAll(async () => {
  const work = await mkdtemp(join(tmpdir(), 'ipcr-gw-e2e-'))
  img = await uniqueImage(join(work, 'layout'), `gw-${process.pid}`)
  noKubo = { IPFS_PATH: join(work, 'no-ipfs'), IPCR_ROOT: join(work, 'root') }
  const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', '--json', `oci-layout:${img.layout}`])
  expect(pushed.code, pushed.stderr).toBe(0)
  const result = JSON.parse(pushed.stdout) as { root: string; blobs: Array<{ digest: string; cid: string }> }
  root = result.root
  const layerCid = result.blobs.find((b) => b.digest === img.layers[1]?.digest)?.cid as string
  leaf = ((await ipfs(['refs', layerCid])).stdout.trim().split('\n'))[1] as string
  const leafBytes = spawnSync('ipfs', ['block', 'get', leaf], { env: process.env, maxBuffer: 1 << 24 }).stdout
  expect(leafBytes.length).toBe(262_144)
  await startProxy(rigEnv().IPCR_RIG_GATEWAY, leafBytes)
  await startTlsProxy(rigEnv().IPCR_RIG_GATEWAY, work)
})

afterAll(async () => {
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()))
  tlsProxy?.closeAllConnections()
  await new Promise<void>((r) => (tlsProxy ? tlsProxy.close(() => r()) : r()))
})

describe('rpull --gateway', () => {
  it('pulls through kubo\'s gateway with no kubo API configured, and the image runs', async () => {
    await wipeContainerd()
    const r = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--gateway', rigEnv().IPCR_RIG_GATEWAY, '--ipfs', root], { env: noKubo })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(`using the trustless gateway ${rigEnv().IPCR_RIG_GATEWAY}`)
    expect(r.stderr).not.toMatch(/using kubo|pinned/)
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', root, `gw-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(out.stdout, out.stderr).toBe(img.text)
  })

  it('fails naming the CID when a gateway flips one byte of one block, leaving containerd empty', async () => {
    await wipeContainerd()
    const before = flipped
    const line = expectCleanFailure(await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--gateway', proxyUrl, '--ipfs', root], { env: noKubo }))
    expect(flipped).toBeGreaterThan(before)
    expect(line).toContain(`block ${leaf} from ${proxyUrl} does not match its CID`)
    expect((await ctr(['images', 'ls', '-q'])).stdout.trim()).toBe('')
    expect((await ctr(['content', 'ls', '-q'])).stdout.trim()).toBe('')
    expect((await ctr(['snapshots', '--snapshotter', 'overlayfs', 'ls'])).stdout.trim().split('\n')).toHaveLength(1) // the header line only
  })

  it('tries gateways in order: past the lying one to a good one', async () => {
    await wipeContainerd()
    const r = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--gateway', proxyUrl, '--gateway', rigEnv().IPCR_RIG_GATEWAY, '--ipfs', root], { env: noKubo })
    expect(r.code, r.stderr).toBe(0)
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', root, `gw2-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(out.stdout, out.stderr).toBe(img.text)
  })
})

describe('rpull --gateway https://', () => {
  it('trusts a private CA that NODE_EXTRA_CA_CERTS names, and refuses the gateway in one line without it', async () => {
    await wipeContainerd()
    const args = ['i', 'rpull', '--snapshotter=overlayfs', '--gateway', tlsProxyUrl, '--ipfs', root]
    const refused = expectCleanFailure(await ipcr(args, { env: { ...noKubo, NODE_EXTRA_CA_CERTS: '' } }))
    expect(refused).toContain(tlsProxyUrl.replace('https://', ''))
    expect(refused).toMatch(/certificate/)
    expect((await ctr(['images', 'ls', '-q'])).stdout.trim()).toBe('')

    const r = await ipcr(args, { env: { ...noKubo, NODE_EXTRA_CA_CERTS: caFile } })
    expect(r.code, r.stderr).toBe(0)
    const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', root, `gwtls-${process.pid}`, '/bin/cat', '/unique.txt'])
    expect(out.stdout, out.stderr).toBe(img.text)
  })
})
