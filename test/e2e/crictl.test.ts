// Issue 15: pulls the way a Kubernetes node makes them. crictl (built by the rig) asks containerd's
// CRI image service, which finds registries through HOST/hosts.toml files under its config_path
// (the rig points it at $IPCR_RIG_CERTS_D). First a plain-HTTP CNCF distribution reached through a
// hosts.toml written here; then the files `ipcr registry hosts` writes, with that distribution as
// the mirror in front of an upstream that cannot answer, so a successful pull proves the mirror
// served it, and in front of one that counts who knocks, which shows the order.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { rigEnv, run, runOk, type RunResult } from '../support/rig.js'
import { ipcr } from '../support/ipcr.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'

let fx: Fixtures
let registry: TestRegistry
/** What the fixture is in the registry: its manifest digest and image id (config digest). */
let manifestDigest: string
let imageId: string
/** hosts directories this file wrote into the rig's certs.d, and the images it pulled. */
const hostDirs: string[] = []
const pulled: string[] = []

function crictl(args: readonly string[]): Promise<RunResult> {
  return run('crictl', ['--runtime-endpoint', `unix://${rigEnv().CONTAINERD_ADDRESS}`, ...args], { timeoutMs: 120_000 })
}

async function pull(ref: string): Promise<RunResult> {
  const r = await crictl(['pull', ref])
  if (r.code === 0) pulled.push(ref)
  return r
}

interface CriImage { id: string; repoTags: string[]; repoDigests: string[] }

async function images(): Promise<CriImage[]> {
  const r = await crictl(['images', '-o', 'json'])
  expect(r.code, r.stderr).toBe(0)
  return (JSON.parse(r.stdout) as { images: CriImage[] }).images
}

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  registry = await startRegistry('plain')
  await runOk('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${fx.single.layout}:1`, `docker://${registry.host}/x:1`], { timeoutMs: 120_000 })
  manifestDigest = fx.single.root.digest
  const manifest = JSON.parse(await readFile(join(fx.single.layout, 'blobs', ...manifestDigest.split(':')), 'utf8')) as { config: { digest: string } }
  imageId = manifest.config.digest
})

afterAll(async () => {
  if (pulled.length > 0) await crictl(['rmi', ...pulled])
  await Promise.all(hostDirs.map((d) => rm(d, { recursive: true, force: true })))
  await registry?.stop()
})

describe('crictl against the rig\'s containerd (CRI image service)', () => {
  it('pulls from a plain-HTTP registry that a hosts.toml in the rig\'s certs.d names, and lists it', async () => {
    const dir = join(rigEnv().IPCR_RIG_CERTS_D, registry.host)
    hostDirs.push(dir)
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, 'hosts.toml'), `[host."${registry.url}"]\n  capabilities = ["pull", "resolve"]\n`)
    const r = await pull(`${registry.host}/x:1`)
    expect(r.code, r.stderr).toBe(0)
    const image = (await images()).find((i) => i.repoTags.includes(`${registry.host}/x:1`))
    expect(image?.id).toBe(imageId)
    expect(image?.repoDigests).toContain(`${registry.host}/x@${manifestDigest}`)
  })

  it('takes the hosts.toml `ipcr registry hosts` writes: an upstream that does not resolve, served by the mirror', async () => {
    const w = await ipcr(['registry', 'hosts', 'upstream.invalid', '--dir', rigEnv().IPCR_RIG_CERTS_D, '--mirror', registry.url])
    expect(w.code, w.stderr).toBe(0)
    hostDirs.push(join(rigEnv().IPCR_RIG_CERTS_D, 'upstream.invalid'))
    expect(w.stdout.trim()).toBe(join(rigEnv().IPCR_RIG_CERTS_D, 'upstream.invalid', 'hosts.toml'))
    const r = await pull('upstream.invalid/x:1')
    expect(r.code, r.stderr).toBe(0)
    const image = (await images()).find((i) => i.repoTags.includes('upstream.invalid/x:1'))
    expect(image?.id).toBe(imageId)
    expect(image?.repoDigests).toContain(`upstream.invalid/x@${manifestDigest}`)
  })

  it('the mirror is asked first; only what it lacks goes on to the upstream server', async () => {
    // The upstream: a loopback listener that counts connections and drops them (no TLS, no registry).
    let connections = 0
    const upstreamServer = createServer((socket) => {
      connections++
      socket.destroy()
    })
    await new Promise<void>((resolve) => upstreamServer.listen(0, '127.0.0.1', resolve))
    try {
      const upstream = `127.0.0.1:${(upstreamServer.address() as AddressInfo).port}`
      const w = await ipcr(['registry', 'hosts', upstream, '--dir', rigEnv().IPCR_RIG_CERTS_D, '--mirror', registry.url])
      expect(w.code, w.stderr).toBe(0)
      hostDirs.push(join(rigEnv().IPCR_RIG_CERTS_D, upstream))
      const hit = await pull(`${upstream}/x:1`)
      expect(hit.code, hit.stderr).toBe(0)
      expect(connections).toBe(0)
      const miss = await pull(`${upstream}/absent:1`)
      expect(miss.code).not.toBe(0)
      expect(connections).toBeGreaterThan(0)
    } finally {
      await new Promise<void>((resolve) => upstreamServer.close(() => resolve()))
    }
  })
})
