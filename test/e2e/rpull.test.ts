// rpull --ipfs into containerd with a full unpack (overlayfs): the image runs, its tree is the
// fixture's, it interoperates with ctr-remote both ways, and bad input leaves nothing behind.
import { beforeAll, describe, expect, it } from 'vitest'
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, layers, type Fixtures } from '../../src/testkit/index.js'
import { chainIds } from '../../src/pull/chain.js'
import { sha256Digest, type Digest } from '../../src/oci/digest.js'
import { ctr, ctrRemote, ipfs, rigEnv, wipeContainerd } from '../support/rig.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'

let fx: Fixtures
const cids: Record<string, string> = {}

async function importAll(): Promise<void> {
  for (const tar of [fx.single.tar, fx.multi.tar]) {
    const r = await ctr(['images', 'import', tar])
    expect(r.code, r.stderr).toBe(0)
  }
}

/** What containerd holds, to prove a failed pull left nothing. */
async function state(): Promise<{ images: string; snapshots: string; content: string }> {
  const q = async (args: string[]) => (await ctr(args)).stdout.trim().split('\n').sort().join('\n')
  return { images: await q(['images', 'ls', '-q']), snapshots: await q(['snapshots', '--snapshotter', 'overlayfs', 'ls']), content: await q(['content', 'ls', '-q']) }
}

async function runIn(image: string, id: string, cmd: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return ctr(['run', '--rm', '--snapshotter', 'overlayfs', image, id, ...cmd])
}

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  await importAll()
  for (const img of [fx.single, fx.multi]) {
    const r = await ipcr(['i', 'ipfs-push', '--estargz=false', img.name])
    expect(r.code, r.stderr).toBe(0)
    cids[img.name] = r.stdout.trim()
  }
  await wipeContainerd()
})

describe('rpull --snapshotter=overlayfs --ipfs', () => {
  it('pulls an image pushed by ipcr into a fresh containerd and it runs', async () => {
    const cid = cids[fx.single.name] as string
    const r = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', cid])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('')
    // One ctr-remote style line per blob: manifest, config, layer.
    const fetching = r.stderr.split('\n').filter((l) => l.startsWith('fetching sha256:'))
    expect(fetching.map((l) => l.split(' ')[2])).toEqual([
      'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.config.v1+json', 'application/vnd.oci.image.layer.v1.tar+gzip',
    ])
    expect((await ctr(['images', 'ls', '-q'])).stdout).toContain(cid)
    const out = await runIn(cid, 'rpull-single', ['/bin/echo', 'hello from ipfs'])
    expect(out.stdout).toBe('hello from ipfs\n')
  })

  it('unpacks whiteouts, opaque directories, hard links and xattrs as the fixture says', async () => {
    const cid = cids[fx.multi.name] as string
    await wipeContainerd()
    for (const ref of [cid, `ipfs://${cid}`, `/ipfs/${cid}`]) {
      const r = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--json', '--ipfs', ref])
      expect(r.code, r.stderr).toBe(0)
      if (ref !== cid) continue
      // containerd 2's overlayfs rebases snapshots, so the layers were applied side by side and
      // each committed onto the one below; Debian's 1.6 cannot, so one after another.
      const result = JSON.parse(r.stdout) as { unpack: string; layers: { applied: number } }
      expect(result.unpack).toBe(rigEnv().IPCR_RIG_CONTAINERD === '2' ? 'parallel' : 'sequential')
      expect(result.layers.applied).toBe(fx.multi.manifests[0]?.layers.length)
    }
    // Either way each layer's snapshot is its chain ID, committed on the chain below it.
    const chain = chainIds((fx.multi.manifests[0]?.diffIds ?? []) as Digest[])
    const listed = (await ctr(['snapshots', '--snapshotter', 'overlayfs', 'ls'])).stdout.trim().split('\n').slice(1).map((l) => {
      const cols = l.trim().split(/\s+/)
      return cols.length === 2 ? [cols[0], '', cols[1]] : cols // a base layer has no parent column
    })
    expect(listed.sort()).toEqual(chain.map((id, i) => [id, i === 0 ? '' : chain[i - 1], 'Committed']).sort())
    const script = [
      ...layers.MULTI_EXPECT.present.map((p) => `test -e /${p} || echo missing /${p}`),
      ...layers.MULTI_EXPECT.absent.map((p) => `test -e /${p} && echo present /${p}`),
      ...Object.entries(layers.MULTI_EXPECT.contents).map(([p, c]) => `[ "$(cat /${p})" = ${JSON.stringify(c.trimEnd())} ] || echo wrong /${p}`),
      'true',
    ].join('\n')
    const out = await runIn(cid, 'rpull-multi', ['/bin/sh', '-c', script])
    expect(out.stderr).toBe('')
    expect(out.stdout).toBe('')
    expect(out.code).toBe(0)
  })

  it('pulls what ctr-remote pushed, and ctr-remote pulls what ipcr pushed', async () => {
    await wipeContainerd()
    await importAll()
    const theirs = (await ctrRemote(['i', 'ipfs-push', '--estargz=false', fx.single.name])).stdout.trim().split('\n').pop() as string
    expect(theirs).toBe(cids[fx.single.name])
    const pushedByUs = (await ipcr(['i', 'ipfs-push', '--estargz=false', fx.multi.name])).stdout.trim()
    await wipeContainerd()
    const a = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', theirs])
    expect(a.code, a.stderr).toBe(0)
    expect((await runIn(theirs, 'cross-a', ['/bin/echo', 'a'])).stdout).toBe('a\n')
    const b = await ctrRemote(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', pushedByUs])
    expect(b.code, b.stderr).toBe(0)
    expect((await runIn(pushedByUs, 'cross-b', ['/bin/echo', 'b'])).stdout).toBe('b\n')
  })
})

describe('rpull refuses bad input and leaves nothing in containerd', () => {
  let work: string
  const add = async (text: string): Promise<string> => {
    const f = join(work, `f${Math.random()}`)
    await writeFile(f, text)
    return (await ipfs(['add', '--cid-version=1', '-Q', f])).stdout.trim()
  }
  const descriptor = (d: Record<string, unknown>) => JSON.stringify({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...d })

  beforeAll(async () => {
    await wipeContainerd()
    work = await mkdtemp(join(tmpdir(), 'ipcr-rpull-bad-'))
  })

  async function expectNothingLeft(args: string[], message: RegExp): Promise<void> {
    const before = await state()
    const line = expectCleanFailure(await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--timeout', '5s', '--ipfs', ...args]))
    expect(line).toMatch(message)
    expect(await state()).toEqual(before)
  }

  it('a CID no node has, within --timeout', async () => {
    // A well-formed CID of bytes nobody added: the offline kubo cannot find it.
    const missing = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'
    await expectNothingLeft([missing], /bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy/)
  })

  it('a root that is not a descriptor', async () => {
    await expectNothingLeft([await add('{"hello":"world"}')], /not a descriptor|missing or unsupported digest/)
    await expectNothingLeft([await add('not json at all')], /not an image root/)
  })

  it('a blob whose bytes do not match its digest', async () => {
    const liar = await add('these bytes are not the manifest')
    const root = await add(descriptor({ digest: `sha256:${'1'.repeat(64)}`, size: 'these bytes are not the manifest'.length, urls: [`ipfs://${liar}`] }))
    await expectNothingLeft([root], /content digest is sha256:.*expected sha256:1111/)
  })

  it('a descriptor whose only URL is http:// (never fetched)', async () => {
    const root = await add(descriptor({ digest: `sha256:${'2'.repeat(64)}`, size: 10, urls: ['http://127.0.0.1:1/blob'] }))
    await expectNothingLeft([root], /has no ipfs:\/\/ URL/)
  })

  it('a size claim far larger than the blob', async () => {
    const blob = await add('{}')
    const root = await add(descriptor({ digest: `sha256:${'3'.repeat(64)}`, size: 1 << 30, urls: [`ipfs://${blob}`] }))
    await expectNothingLeft([root], /is 1 GiB, over the 4 MiB limit for an image manifest \(raise the limit with --max-manifest-size\)$/)
  })

  it('a layer that unpacks to another diff ID than its config says (applied beside the others on containerd 2)', async () => {
    // The multi image, its config claiming a wrong diff ID for the middle layer.
    const dir = join(work, 'wrong-diff-id')
    await cp(fx.multi.layout, dir, { recursive: true })
    const blob = (d: string): string => join(dir, 'blobs', 'sha256', d.slice(7))
    const put = async (json: unknown): Promise<{ digest: string; size: number }> => {
      const bytes = Buffer.from(JSON.stringify(json))
      const digest = sha256Digest(bytes)
      await writeFile(blob(digest), bytes)
      return { digest, size: bytes.length }
    }
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; size: number }> }
    const entry = index.manifests[0] as { digest: string; size: number }
    const manifest = JSON.parse(await readFile(blob(entry.digest), 'utf8')) as { config: { digest: string; size: number } }
    const config = JSON.parse(await readFile(blob(manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] } }
    config.rootfs.diff_ids[1] = `sha256:${'0'.repeat(64)}`
    Object.assign(manifest.config, await put(config))
    Object.assign(entry, await put(manifest))
    await writeFile(join(dir, 'index.json'), JSON.stringify(index))
    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${dir}`])
    expect(pushed.code, pushed.stderr).toBe(0)
    await expectNothingLeft([pushed.stdout.trim()], /unpacks to sha256:[0-9a-f]{64}, but the config says its diff ID is sha256:0{64}/)
  })

  it('no manifest for the requested platform', async () => {
    const cid = cids[fx.single.name] as string
    const r = await ipcr(['i', 'ipfs-push', '--estargz=false', '--all-platforms', `oci-layout:${fx.platforms.layout}`])
    expect(r.code, r.stderr).toBe(0)
    await expectNothingLeft(['--platform', 'linux/s390x', r.stdout.trim()], /matches linux\/s390x/)
    expect(cid).toBeTruthy()
  })
})

describe('image ls, image rm and interrupted pulls', () => {
  it('lists the pulled image under its CID and removes it with its snapshots', async () => {
    await wipeContainerd()
    const cid = cids[fx.single.name] as string
    expect((await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', cid])).code).toBe(0)
    const ls = await ipcr(['i', 'ls'])
    expect(ls.stdout).toMatch(new RegExp(`^${cid}\\s+application/vnd.oci.image.manifest.v1\\+json\\s+sha256:`, 'm'))
    expect((await ipcr(['i', 'ls', '-q'])).stdout.trim()).toBe(cid)
    const rm = await ipcr(['i', 'rm', cid])
    expect(rm.code, rm.stderr).toBe(0)
    expect((await ipcr(['i', 'ls', '-q'])).stdout.trim()).toBe('')
    expect((await ctr(['snapshots', '--snapshotter', 'overlayfs', 'ls'])).stdout.trim().split('\n')).toHaveLength(1) // header only
    expect(expectCleanFailure(await ipcr(['i', 'rm', cid]))).toMatch(/no image/)
  })

  it('resumes a pull that was killed midway instead of starting over', async () => {
    const { writeRandomImage } = await import('../../src/testkit/index.js')
    const image = await writeRandomImage(join(await mkdtemp(join(tmpdir(), 'ipcr-resume-')), 'layout'), { layerSize: 768 << 20, seed: 'resume' })
    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', `oci-layout:${image.dir}`])
    expect(pushed.code, pushed.stderr).toBe(0)
    const cid = pushed.stdout.trim()
    await wipeContainerd()
    const { spawn } = await import('node:child_process')
    const bin = new URL('../../bin/ipcr', import.meta.url).pathname
    const child = spawn(bin, ['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', cid], { stdio: ['ignore', 'ignore', 'pipe'] })
    // Taken now: a pull that ends on its own before the kill must not leave the test waiting forever.
    const closed = new Promise((r) => child.on('close', r))
    // Kill it once containerd holds part of the layer: its active ingest, with bytes in it. (Not any
    // ingest: a small JSON blob's may show bytes for an instant, before the layer has started.)
    child.stderr.resume()
    for (let i = 0; i < 600; i++) {
      const active = (await ctr(['content', 'active'])).stdout.split('\n').slice(1).filter((l) => l.includes(`ipcr-${image.layer.digest}`))
      if (active.some((l) => { const size = /\s(\d+(?:\.\d+)?)\s*([kMG]i?B|B)\s/.exec(l); return size !== null && Number(size[1]) > 0 })) break
      await new Promise((r) => setTimeout(r, 50))
    }
    child.kill('SIGKILL')
    await closed
    // The killed pull's lease is there, holding its half-written ingest.
    expect((await ctr(['leases', 'ls'])).stdout).toContain('ipcr.io/rpull')
    const again = await ipcr(['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', cid])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toMatch(new RegExp(`resumed sha256:[0-9a-f]{8}\\.\\.\\. at byte [1-9]\\d* of ${image.layer.size}`))
    expect((await ipcr(['i', 'ls', '-q'])).stdout).toContain(cid)
    // The rerun took the killed pull's lease over and let it go: no lease is left, and once
    // containerd collects garbage, nothing remains but the image's one layer snapshot.
    expect((await ctr(['leases', 'ls'])).stdout.trim().split('\n').slice(1)).toEqual([])
    await ctr(['leases', 'create', '--id', 'gc-now'])
    expect((await ctr(['leases', 'rm', '--sync', 'gc-now'])).code).toBe(0)
    expect((await ctr(['snapshots', '--snapshotter', 'overlayfs', 'ls'])).stdout.trim().split('\n').slice(1)).toHaveLength(1)
    expect((await ctr(['content', 'active'])).stdout.trim().split('\n').slice(1)).toEqual([])
  })

  it('Ctrl-C and SIGTERM stop a pull at once: exit 130/143, one line, its lease and ingest gone', async () => {
    const { writeRandomImage } = await import('../../src/testkit/index.js')
    const image = await writeRandomImage(join(await mkdtemp(join(tmpdir(), 'ipcr-interrupt-')), 'layout'), { layerSize: 768 << 20, seed: 'interrupt-pull' })
    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${image.dir}`])
    expect(pushed.code, pushed.stderr).toBe(0)
    const cid = pushed.stdout.trim()
    const { spawn } = await import('node:child_process')
    const bin = new URL('../../bin/ipcr', import.meta.url).pathname
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      await wipeContainerd()
      const child = spawn(bin, ['i', 'rpull', '--snapshotter=overlayfs', '--ipfs', cid], { stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
      const closed = new Promise<number | null>((r) => child.on('close', r))
      for (let i = 0; i < 600; i++) {
        if ((await ctr(['content', 'active'])).stdout.includes(`ipcr-${image.layer.digest}`)) break
        await new Promise((r) => setTimeout(r, 50))
      }
      child.kill(signal)
      expect(await closed, stderr).toBe(code)
      expect(stderr.trim().split('\n').filter((l) => l.startsWith('ipcr: '))).toEqual([`ipcr: interrupted by ${signal}: stopped and cleaned up; run the command again to redo it`])
      expect((await ctr(['leases', 'ls'])).stdout.trim().split('\n').slice(1)).toEqual([])
      expect((await ctr(['content', 'active'])).stdout.trim().split('\n').slice(1)).toEqual([])
      expect((await ipcr(['i', 'ls', '-q'])).stdout.trim()).toBe('')
    }
  })
})
