// Issue 13 item 6: input is checked before it is used. What rpull, ipns name, ipns republish and
// ipfs-push --ref cannot take fails in parsing, with one line that quotes it and names the forms
// accepted, before any daemon is contacted: proven by pointing ipcr at servers that count every
// connection (and at addresses nothing listens on).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ipnsNameForRef } from '../../src/ipfs/ipns-key.js'
import { buildFixtures } from '../../src/testkit/index.js'
import { run, type RunResult } from '../support/rig.js'
import { expectCleanFailure, ipcr } from '../support/ipcr.js'

const cid = 'bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a'
const pullForms = 'expected a CID, ipfs://CID, /ipfs/CID, /ipns/NAME, ipns://NAME, or an image reference NAME:TAG or NAME@sha256:DIGEST'
const refForms = 'expected NAME:TAG or NAME@sha256:<64 hex digits>'

/** A server that counts connections and drops each at once, so a client that reaches it fails fast. */
class Tripwire {
  connections = 0
  private constructor(readonly server: Server) {
    server.on('connection', (socket) => {
      this.connections++
      socket.destroy()
    })
  }

  static async listen(at: { port: 0; host: string } | { path: string }): Promise<Tripwire> {
    const wire = new Tripwire(createServer())
    await new Promise<void>((resolve, reject) => {
      wire.server.once('error', reject)
      wire.server.listen(at, resolve)
    })
    return wire
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

let work: string
let kubo: Tripwire
let containerd: Tripwire
let containerdSocket: string

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-input-'))
  kubo = await Tripwire.listen({ port: 0, host: '127.0.0.1' })
  containerdSocket = join(work, 'containerd.sock')
  containerd = await Tripwire.listen({ path: containerdSocket })
})

afterAll(async () => {
  await Promise.all([kubo.close(), containerd.close()])
  await rm(work, { recursive: true, force: true })
})

/** ipcr with both daemons replaced by tripwires (the containerd one through CONTAINERD_ADDRESS). */
const tripped = (args: string[]) => ipcr(['--ipfs-api', kubo.url, ...args], { env: { CONTAINERD_ADDRESS: containerdSocket } })
/** ipcr with both daemons at addresses nothing listens on. */
const unreachable = (args: string[]) => ipcr(['--ipfs-api', 'http://127.0.0.1:1', '-a', '/nonexistent.sock', ...args])

const badPulls: Array<[string, RegExp]> = [
  ['notacid', /is neither a CID nor an image reference: a name alone names no image, it needs a tag or a digest/],
  ['bafy!!!', /starts like a CID but does not parse as one \(truncated or mistyped\?\)/],
  [cid.slice(0, -1), /starts like a CID but does not parse as one \(truncated or mistyped\?\)/],
  ['../../etc/passwd', /is neither a CID nor an image reference: "\.\." is neither a registry/],
]

/**
 * Run ipcr and check that neither tripwire saw a connection. A client that reaches one fails only
 * after the tripwire has counted and dropped it, so a count taken after exit is complete.
 */
async function withoutContact(args: string[]): Promise<RunResult> {
  const before = kubo.connections + containerd.connections
  const r = await tripped(args)
  expect(kubo.connections + containerd.connections, 'connections to the daemons').toBe(before)
  return r
}

describe('rpull refuses what is neither a CID, an IPNS name nor a tagged reference', () => {
  it('(the tripwires count the connections of a pull whose input is fine)', async () => {
    // Without this, "no connection" below could mean the tripwires see nothing at all.
    const before = { kubo: kubo.connections, containerd: containerd.connections }
    const line = expectCleanFailure(await tripped(['i', 'rpull', '--timeout', '5s', '--ipfs', 'valid.test/app:1']))
    expect(line).not.toContain(pullForms)
    expect(kubo.connections).toBeGreaterThan(before.kubo)
    expect(containerd.connections).toBeGreaterThan(before.containerd)
  })

  it.each(badPulls)('%j, quoting it and naming the forms, with no daemon contacted', async (input, why) => {
    for (const r of [await withoutContact(['i', 'rpull', '--ipfs', input]), await unreachable(['i', 'rpull', '--ipfs', input])]) {
      const line = expectCleanFailure(r)
      expect(line.startsWith(`ipcr: "${input}" `)).toBe(true)
      expect(line).toMatch(why)
      expect(line.endsWith(pullForms)).toBe(true)
      expect(r.code).toBe(2)
    }
  })

  it.each([
    ['/ipns/not_a_key', /has "not_a_key", which is neither an IPNS key name \(k51…\) nor a DNSLink domain/],
    [`/ipfs/${cid.slice(0, -1)}`, /after \/ipfs\/, which is not a CID \(truncated or mistyped\?\)/],
  ])('%j, before any daemon is contacted', async (input, why) => {
    const line = expectCleanFailure(await withoutContact(['i', 'rpull', '--ipfs', input]))
    expect(line).toMatch(why)
    expect(line.startsWith(`ipcr: "${input}" `)).toBe(true)
    expect(line.endsWith(pullForms)).toBe(true)
  })
})

describe('commands that take a reference refuse what is not one', () => {
  it('image copy from ipfs: takes what rpull takes, refused before kubo is reached', async () => {
    const line = expectCleanFailure(await withoutContact(['i', 'copy', 'ipfs:notacid', `oci-layout:${join(work, 'out')}`]))
    expect(line).toMatch(/^ipcr: "notacid" is neither a CID nor an image reference/)
    expect(line.endsWith(pullForms)).toBe(true)
  })

  it('ipns name refuses a non-reference and a bare name, and names a tagged one as before', async () => {
    const bad = expectCleanFailure(await ipcr(['ipns', 'name', 'BAD REF']))
    expect(bad).toMatch(/^ipcr: "BAD REF" is not an image reference: "BAD REF" is not a path component/)
    expect(bad).toContain(refForms)
    expect(expectCleanFailure(await ipcr(['ipns', 'name', 'notag']))).toMatch(/^ipcr: "notag" is not an image reference: a name alone names no image, it needs a tag or a digest/)
    const good = await ipcr(['ipns', 'name', 'example.com/app:1'])
    expect(good.code, good.stderr).toBe(0)
    expect(good.stdout).toBe(`${ipnsNameForRef('example.com/app:1')}\n`)
  })

  it('ipfs-push refuses a bad --ref before reading the image or reaching a daemon', async () => {
    // The layout does not exist: reading it first would fail with another message.
    const line = expectCleanFailure(await withoutContact(['i', 'ipfs-push', '--estargz=false', '--ref', 'Bad/Ref', `oci-layout:${join(work, 'missing')}`]))
    expect(line).toMatch(/^ipcr: "Bad\/Ref" is not an image reference: repository path "Ref" must be lowercase/)
    expect(line).toContain(refForms)
  })

  it('ipfs-push pushes an image whose own name is no reference, and says why it publishes no name', async () => {
    // As rpull names an image fetched by CID: a bare name, which rpull would take for a CID or refuse.
    const fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
    const dir = join(work, 'bare-name')
    await cp(fx.single.layout, dir, { recursive: true })
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ annotations?: Record<string, string> }> }
    for (const m of index.manifests) m.annotations = { ...m.annotations, 'io.containerd.image.name': cid }
    await writeFile(join(dir, 'index.json'), JSON.stringify(index))
    const r = await ipcr(['i', 'ipfs-push', '--estargz=false', `oci-layout:${dir}`])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.trim()).toMatch(/^bafk/)
    expect(r.stderr).toContain(`not publishing an IPNS name: "${cid}" is not an image reference: a name alone names no image, it needs a tag or a digest`)
    expect(r.stderr).not.toMatch(/published /)
  })

  it('ipns republish reports a malformed reference as such, not as never pushed', async () => {
    const line = expectCleanFailure(await withoutContact(['ipns', 'republish', 'example.com/app:1', 'BAD REF']))
    expect(line).toMatch(/^ipcr: "BAD REF" is not an image reference/)
  })

  it('a reader that stops early (ipcr … --help | head -1) ends ipcr quietly with exit 0, not an EPIPE stack', async () => {
    const bin = new URL('../../bin/ipcr', import.meta.url).pathname
    const r = await run('bash', ['-c', `set -o pipefail; "${bin}" i ipfs-push --help | head -1`])
    expect(r.stdout).toBe('Usage: ipcr image ipfs-push [options] <image>\n')
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
  })
})
