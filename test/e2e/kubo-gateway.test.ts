// rpull reads blobs through the HTTP gateway of the kubo it talks to (the `gateway` file beside
// `api` in IPFS_PATH): kubo's RPC `cat` costs several times the CPU for the same bytes. Proven with a
// counting proxy in front of the rig's real gateway; and every way that gateway can be unusable (a
// real kubo serving only trustless responses, a stale file naming a dead port or another server)
// sends the reads back to the RPC with one line on stderr, while wrong bytes fail the pull cleanly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'
import { ctr, rigEnv, rigScript, runOk, wipeContainerd } from '../support/rig.js'

let fx: Fixtures
let cid: string
let layerCid: string
let layerSize: number
let work: string

interface Proxy { url: string; bytes: Map<string, number>; close(): Promise<void> }

/** An HTTP proxy to the rig's gateway that counts the bytes it relays per path, optionally flipping one. */
async function proxy(mode: 'pass' | 'flip' | 'plain-server' = 'pass'): Promise<Proxy> {
  const upstream = new URL(rigEnv().IPCR_RIG_GATEWAY)
  const bytes = new Map<string, number>()
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/'
    if (mode === 'plain-server') { res.end('hello, I am some other web server'); return }
    const out = http.request({ host: upstream.hostname, port: upstream.port, path, method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers)
      let flipped = false
      up.on('data', (chunk: Buffer) => {
        bytes.set(path, (bytes.get(path) ?? 0) + chunk.length)
        if (mode === 'flip' && !flipped && path.endsWith(layerCid)) { chunk = Buffer.from(chunk); chunk[0] = (chunk[0] as number) ^ 0xff; flipped = true }
        res.write(chunk)
      })
      up.on('end', () => res.end())
    })
    out.on('error', () => res.destroy())
    req.pipe(out)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bytes,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

/** An IPFS_PATH holding the rig kubo's `api` file and, if given, a `gateway` file naming `gateway`. */
async function repoWith(gateway: string | undefined): Promise<string> {
  const dir = await mkdtemp(join(work, 'repo-'))
  await copyFile(join(rigEnv().IPFS_PATH, 'api'), join(dir, 'api'))
  if (gateway !== undefined) await writeFile(join(dir, 'gateway'), `${gateway}\n`)
  return dir
}

async function pull(ipfsPath: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  await wipeContainerd()
  return ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--pin=false', '--ipfs', cid], { env: { IPFS_PATH: ipfsPath } })
}

async function expectRuns(): Promise<void> {
  const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', cid, `gw-${Date.now()}`, '/bin/echo', 'through the gateway'])
  expect(out.stdout).toBe('through the gateway\n')
}

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  work = await mkdtemp(join(tmpdir(), 'ipcr-kubo-gw-'))
  const r = await ctr(['images', 'import', fx.single.tar])
  expect(r.code, r.stderr).toBe(0)
  const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--json', fx.single.name])
  expect(pushed.code, pushed.stderr).toBe(0)
  const result = JSON.parse(pushed.stdout) as { root: string }
  cid = result.root
  const layer = fx.single.manifests[0]?.layers[0] as { digest: string; size: number }
  layerSize = layer.size
  // The layer's CID is in its descriptor's URL, inside the manifest the root points at.
  const rootDesc = JSON.parse((await runOk('ipfs', ['cat', cid])).stdout) as { urls: string[] }
  const manifest = JSON.parse((await runOk('ipfs', ['cat', (rootDesc.urls[0] as string).slice(7)])).stdout) as { layers: Array<{ digest: string; urls: string[] }> }
  layerCid = (manifest.layers.find((l) => l.digest === layer.digest)?.urls[0] as string).slice(7)
})

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

describe("rpull through kubo's gateway", () => {
  it('fetches every blob through the gateway named in IPFS_PATH/gateway, and the image runs', async () => {
    const p = await proxy()
    try {
      const r = await pull(await repoWith(p.url))
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toContain(`reading blobs through its gateway ${p.url}`)
      expect(r.stderr).not.toContain('through the RPC API instead')
      expect(p.bytes.get(`/ipfs/${layerCid}`)).toBe(layerSize)
      expect(p.bytes.get(`/ipfs/${cid}`)).toBeGreaterThan(0) // the root too
      await expectRuns()
    } finally {
      await p.close()
    }
  })

  it('uses the RPC API alone when the repo has no gateway file', async () => {
    const r = await pull(await repoWith(undefined))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).not.toContain('gateway')
    await expectRuns()
  })

  it('falls back to the RPC API, saying so once, when the gateway file names a dead port or a server that is no IPFS gateway', async () => {
    const dead = http.createServer()
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve))
    const deadUrl = `http://127.0.0.1:${(dead.address() as AddressInfo).port}`
    await new Promise<void>((resolve) => dead.close(() => resolve()))
    const other = await proxy('plain-server')
    try {
      for (const [url, why] of [[deadUrl, /did not answer/], [other.url, /without X-Ipfs-Path: it is not an IPFS gateway/]] as const) {
        const r = await pull(await repoWith(url))
        expect(r.code, r.stderr).toBe(0)
        const notes = r.stderr.split('\n').filter((l) => l.includes('reading blobs through the RPC API instead'))
        expect(notes).toHaveLength(1)
        expect(notes[0]).toMatch(why)
        await expectRuns()
      }
      expect(other.bytes.size).toBe(0)
    } finally {
      await other.close()
    }
  })

  it('fails cleanly, naming the blob and leaving nothing in containerd, when the gateway sends wrong bytes', async () => {
    const p = await proxy('flip')
    try {
      await wipeContainerd()
      const r = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--pin=false', '--ipfs', cid], { env: { IPFS_PATH: await repoWith(p.url) } })
      expect(expectCleanFailure(r)).toMatch(new RegExp(`${(fx.single.manifests[0]?.layers[0] as { digest: string }).digest}: content digest is sha256:`))
      expect((await ctr(['images', 'ls', '-q'])).stdout.trim()).toBe('')
      expect((await ctr(['content', 'ls', '-q'])).stdout.trim()).toBe('')
      expect((await ctr(['snapshots', '--snapshotter', 'overlayfs', 'ls'])).stdout.trim().split('\n')).toHaveLength(1) // header only
    } finally {
      await p.close()
    }
  })

  it("falls back when a real kubo's gateway serves only trustless responses (Gateway.DeserializedResponses=false)", async () => {
    // A kubo of this test's own, set up as the rig's, holding the image from a CAR file.
    const repo = join(work, 'trustless-kubo')
    await mkdir(repo, { recursive: true })
    await runOk('bash', [rigScript, 'kubo-init', repo])
    const env = { IPFS_PATH: repo }
    await runOk('ipfs', ['config', '--json', 'Gateway.DeserializedResponses', 'false'], { env })
    const car = join(work, 'image.car')
    const imported = await ctr(['images', 'import', fx.single.tar])
    expect(imported.code, imported.stderr).toBe(0)
    const carPush = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', '--car', car, fx.single.name])
    expect(carPush.stdout.trim(), carPush.stderr).toBe(cid)
    const daemon: ChildProcess = spawn('ipfs', ['daemon', '--offline'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
    try {
      await new Promise<void>((resolve, reject) => {
        daemon.stdout?.on('data', (b: Buffer) => { if (b.toString().includes('Daemon is ready')) resolve() })
        daemon.on('exit', () => reject(new Error('kubo exited before it was ready')))
      })
      await runOk('ipfs', ['dag', 'import', car], { env })
      const gateway = (await readFile(join(repo, 'gateway'), 'utf8')).trim()
      await wipeContainerd()
      const r = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--pin=false', '--ipfs', cid], { env })
      expect(r.code, r.stderr).toBe(0)
      const notes = r.stderr.split('\n').filter((l) => l.includes('reading blobs through the RPC API instead'))
      expect(notes).toEqual([expect.stringMatching(new RegExp(`gateway at ${gateway.replace('localhost', '127.0.0.1')} answered HTTP 406`))])
      await expectRuns()
    } finally {
      daemon.kill('SIGTERM')
      await new Promise((resolve) => daemon.once('exit', resolve))
    }
  })
})
