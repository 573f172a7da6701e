// Bad input to ipfs-push: every failure is one line on stderr, a non-zero exit and an empty stdout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { spawn, type ChildProcess } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, writeRandomImage, type Fixtures } from '../../src/testkit/index.js'
import { ctr, rigScript, runOk } from '../support/rig.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'

let fx: Fixtures
let work: string

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  work = await mkdtemp(join(tmpdir(), 'ipcr-bad-'))
  const r = await ctr(['images', 'import', '--all-platforms', fx.platforms.tar])
  expect(r.code, r.stderr).toBe(0)
})

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

/** Bytes in a kubo repo's flatfs blocks directory (du: what has been stored so far). */
async function blocksBytes(dir: string): Promise<number> {
  const r = await runOk('du', ['-sb', dir]).catch(() => undefined)
  return r ? Number(r.stdout.split('\t')[0]) : 0
}

const push = (image: string, extra: string[] = [], env?: NodeJS.ProcessEnv) =>
  ipcr(['i', 'ipfs-push', '--estargz=false', ...extra, image], env ? { env } : {})

describe('ipfs-push refuses bad input cleanly', () => {
  it('an image containerd does not have', async () => {
    expect(expectCleanFailure(await push('ipcr.test/nope:1'))).toMatch(/image "ipcr.test\/nope:1" not found in containerd namespace "default"/)
  })

  it('a missing OCI layout', async () => {
    expect(expectCleanFailure(await push(`oci-layout:${work}/missing`))).toMatch(/does not exist/)
  })

  it('a malformed OCI layout', async () => {
    const dir = join(work, 'malformed')
    await mkdir(dir)
    await writeFile(join(dir, 'oci-layout'), 'not json')
    expect(expectCleanFailure(await push(`oci-layout:${dir}`))).toMatch(/oci-layout is malformed/)
    await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
    expect(expectCleanFailure(await push(`oci-layout:${dir}`))).toMatch(/index.json is missing/)
  })

  it('a layout blob whose bytes do not match its digest', async () => {
    const dir = join(work, 'corrupt')
    await cp(fx.single.layout, dir, { recursive: true })
    const layer = fx.single.manifests[0]!.layers[0]!
    const path = join(dir, 'blobs', 'sha256', layer.digest.slice(7))
    const bytes = await readFile(path)
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0xff
    await writeFile(path, bytes)
    expect(expectCleanFailure(await push(`oci-layout:${dir}`))).toMatch(new RegExp(`${layer.digest.slice(7, 19)}.*content digest is sha256:`))
  })

  it('a platform the image does not have', async () => {
    expect(expectCleanFailure(await push(fx.platforms.name, ['--platform', 'linux/s390x']))).toMatch(/matches linux\/s390x \(it has: linux\/amd64, linux\/arm64/)
  })

  it('an unreachable containerd socket', async () => {
    expect(expectCleanFailure(await push('ipcr.test/single:1', ['-a', join(work, 'no.sock')]))).toMatch(/cannot reach containerd at .*no\.sock/)
  })

  it('an --ipfs-api where no kubo answers', async () => {
    expect(expectCleanFailure(await push(`oci-layout:${fx.single.layout}`, ['--ipfs-api', '/ip4/127.0.0.1/tcp/9']))).toMatch(/kubo did not answer at \/ip4\/127.0.0.1\/tcp\/9/)
  })

  it('kubo stopping in the middle of a push', async () => {
    // A kubo of this test's own, so stopping it leaves the rig's alone.
    const repo = join(work, 'kubo')
    const env = { IPFS_PATH: repo }
    // Set up as the rig's kubo: loopback only, AutoConf and telemetry off, so nothing phones out.
    await runOk('bash', [rigScript, 'kubo-init', repo])
    const daemon: ChildProcess = spawn('ipfs', ['daemon', '--offline'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
    await new Promise<void>((resolve, reject) => {
      daemon.stdout?.on('data', (b: Buffer) => { if (b.toString().includes('Daemon is ready')) resolve() })
      daemon.on('exit', () => reject(new Error('kubo exited before it was ready')))
    })
    const image = await writeRandomImage(join(work, 'big'), { layerSize: 512 << 20, seed: 'kill-kubo' })
    const pushing = push(`oci-layout:${image.dir}`, [], env)
    // Take kubo away once it has stored part of the layer, so the add is under way; not after a
    // fixed wait: a push of the whole 512 MiB once took less than the 1.5 s this test used to wait.
    const deadline = Date.now() + 60_000
    while ((await blocksBytes(join(repo, 'blocks'))) < 32 << 20) {
      if (Date.now() > deadline) throw new Error('kubo stored nothing of the layer within 60 s')
      await new Promise((r) => setTimeout(r, 20))
    }
    daemon.kill('SIGKILL')
    const line = expectCleanFailure(await pushing)
    expect(line).toMatch(/kubo at http:\/\/127\.0\.0\.1:\d+ (stopped answering|did not answer)/)
    expect(line).toMatch(/sha256:/)
  })
})


