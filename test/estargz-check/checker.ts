/**
 * Test helper: build the Go estargz-check program once per change of its sources (cached outside
 * the repo, under ~/.cache/ipcr-rig/estargz-check/<hash>) and run it.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const here = dirname(fileURLToPath(import.meta.url))

let built: Promise<string> | undefined

/** Path of the estargz-check binary, building it when go.mod, go.sum or main.go changed. */
export function checkerBinary(): Promise<string> {
  built ??= (async () => {
    const hash = createHash('sha256')
    for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(f).update(readFileSync(join(here, f)))
    const dir = join(process.env.IPCR_RIG_CACHE ?? join(homedir(), '.cache', 'ipcr-rig'), 'estargz-check', hash.digest('hex').slice(0, 16))
    const bin = join(dir, 'estargz-check')
    if (!existsSync(bin)) {
      mkdirSync(dir, { recursive: true })
      const tmp = `${bin}.${process.pid}.tmp`
      await run('go', ['build', '-o', tmp, '.'], { cwd: here, maxBuffer: 16 << 20 })
      renameSync(tmp, bin)
    }
    return bin
  })()
  return built
}

export interface CheckSummary {
  ok: boolean
  tocDigest: string
  diffId: string
  uncompressedSize: number
  firstEntry: string
  entries: number
}

/** Run `estargz-check <blob> <tar>`; resolves to its summary, rejects with its one-line complaint. */
export async function goCheck(blob: string, sourceTar: string, opts: { tocDigest?: string; diffId?: string } = {}): Promise<CheckSummary> {
  const args = [blob, sourceTar]
  if (opts.tocDigest) args.push('--toc-digest', opts.tocDigest)
  if (opts.diffId) args.push('--diff-id', opts.diffId)
  return JSON.parse(await exec(args)) as CheckSummary
}

export interface GoBuildResult {
  tocDigest: string
  diffId: string
  digest: string
  compressedSize: number
  uncompressedSize: number
  seconds: number
}

export async function goBuild(
  tar: string,
  out: string,
  opts: { chunkSize?: number; level?: number; parallelism?: number; minChunkSize?: number; prioritized?: string[] } = {},
): Promise<GoBuildResult> {
  const args = ['build', tar, out]
  if (opts.chunkSize !== undefined) args.push('--chunk-size', String(opts.chunkSize))
  if (opts.level !== undefined) args.push('--level', String(opts.level))
  if (opts.parallelism !== undefined) args.push('--parallelism', String(opts.parallelism))
  if (opts.minChunkSize !== undefined) args.push('--min-chunk-size', String(opts.minChunkSize))
  if (opts.prioritized) args.push('--prioritized', opts.prioritized.join(','))
  return JSON.parse(await exec(args)) as GoBuildResult
}

async function exec(args: string[]): Promise<string> {
  const bin = await checkerBinary()
  try {
    const { stdout } = await run(bin, args, { maxBuffer: 64 << 20 })
    return stdout
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    throw new Error((e.stderr ?? '').trim() || e.message)
  }
}
