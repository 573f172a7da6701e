// Push and convert stopped at random points, by SIGKILL, SIGINT and SIGTERM: an interrupt exits
// 130/143 with one line and removes its scratch at once; a kill's scratch is swept by the next
// run; and the next run gives what a clean run gives.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { writeRandomImage } from '../../src/testkit/index.js'
import { ipcr } from '../support/ipcr.js'
import { ipcrBin } from '../support/cluster.js'

let work: string
let layout: string
let env: NodeJS.ProcessEnv

/** A small seeded generator, so a failing run can be replayed with the same kill points. */
function seeded(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}
const random = seeded(13)

const scratchRoot = (): string => join(env.IPCR_ROOT as string, 'scratch')
const scratchEntries = (): Promise<string[]> => readdir(scratchRoot()).catch(() => [])

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'ipcr-interrupt-e2e-'))
  // Random bytes do not compress: converting 48 MiB at gzip level 9 keeps the worker busy for a while.
  layout = (await writeRandomImage(join(work, 'layout'), { layerSize: 48 << 20, seed: 'interrupt', gzip: false })).dir
  // The embedded store: no daemon is needed for push or convert into a layout.
  env = { IPCR_ROOT: join(work, 'root'), IPFS_PATH: join(work, 'no-ipfs') }
})

afterAll(async () => {
  await rm(work, { recursive: true, force: true })
})

interface Stopped { code: number | null; signal: NodeJS.Signals | null; stderr: string; scratchSeen: boolean }

/** Start `args`, wait until its scratch has files in it (conversion under way), then a random while more, and send `signal`. */
async function stopMidway(args: string[], signal: NodeJS.Signals): Promise<Stopped> {
  const child = spawn(ipcrBin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (code, sig) => resolve([code, sig])))
  let scratchSeen = false
  for (let i = 0; i < 400 && child.exitCode === null && !scratchSeen; i++) {
    const dirs = await scratchEntries()
    for (const d of dirs) {
      const inside = await readdir(join(scratchRoot(), d)).catch(() => [])
      if (inside.length > 0) scratchSeen = true
    }
    if (!scratchSeen) await new Promise((r) => setTimeout(r, 25))
  }
  await new Promise((r) => setTimeout(r, Math.floor(random() * 600)))
  child.kill(signal)
  const [code, sig] = await closed
  return { code, signal: sig, stderr, scratchSeen }
}

const commands: Record<string, (n: number) => { args: string[]; result: (stdout: string) => Promise<string> }> = {
  push: () => ({ args: ['i', 'ipfs-push', '--ipns=false', `oci-layout:${layout}`], result: async (stdout) => stdout.trim() }),
  convert: (n) => {
    const out = join(work, `converted-${n}`)
    return {
      args: ['i', 'convert', '--estargz', `oci-layout:${layout}`, `oci-layout:${out}`],
      // The converted image's manifest digest, as the destination layout names it.
      result: async () => (JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> }).manifests.map((m) => m.digest).join(','),
    }
  },
}

describe('interrupted push and convert', () => {
  for (const [name, command] of Object.entries(commands)) {
    it(`${name}: SIGKILL, SIGINT and SIGTERM at random points leave no scratch after the next run, which gives the clean result`, async () => {
      await rm(env.IPCR_ROOT as string, { recursive: true, force: true })
      const clean = command(0)
      const first = await ipcr(clean.args, { env })
      expect(first.code, first.stderr).toBe(0)
      const expected = await clean.result(first.stdout)
      expect(expected).toMatch(/^(bafkrei|sha256:)/)
      expect(await scratchEntries()).toEqual([]) // a finished run removes its own scratch

      let n = 1
      for (const signal of ['SIGKILL', 'SIGINT', 'SIGTERM', 'SIGKILL'] as const) {
        const attempt = command(n++)
        const stopped = await stopMidway(attempt.args, signal)
        expect(stopped.scratchSeen, `${signal}: the conversion never started\n${stopped.stderr}`).toBe(true)
        if (signal === 'SIGKILL') {
          expect(stopped.signal).toBe('SIGKILL')
          expect((await scratchEntries()).length).toBe(1) // what a kill leaves, until the next run
        } else {
          expect(stopped.code, stopped.stderr).toBe(signal === 'SIGINT' ? 130 : 143)
          const lines = stopped.stderr.trim().split('\n').filter((l) => l.startsWith('ipcr: '))
          expect(lines).toEqual([`ipcr: interrupted by ${signal}: stopped and cleaned up; run the command again to redo it`])
          expect(await scratchEntries()).toEqual([])
        }
        const again = await ipcr(attempt.args, { env })
        expect(again.code, again.stderr).toBe(0)
        expect(await attempt.result(again.stdout)).toBe(expected)
        expect(await scratchEntries()).toEqual([])
      }
    })
  }
})
