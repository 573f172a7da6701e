import { readFile } from 'node:fs/promises'
import { Option, type Command } from 'commander'
import { UsageError } from '../errors.js'
import type { ConvertOptions } from '../estargz/index.js'
import { parseRecordFile } from '../estargz/record.js'

/** The eStargz flags ctr-remote's convert and ipfs-push take, added to a command. */
export function addEstargzOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--estargz-chunk-size <bytes>', 'largest chunk of a file per gzip member (default 4 MiB)'))
    .addOption(new Option('--estargz-compression-level <level>', 'gzip level 0-9 (default 9, as the Go tools)'))
    .addOption(new Option('--estargz-compressor <name>', "gzip encoder: 'go' writes the bytes Go's compress/gzip writes, so blobs and CIDs equal ctr-remote's and nerdctl's; 'zlib' is Node's zlib, about twice as fast, but the CIDs will then differ from the Go tools'").choices(['go', 'zlib']).default('go'))
    .addOption(new Option('--estargz-parallelism <n>', "parts the layer is cut into, each starting new gzip members, as Go's estargz.Build does with one part per core (default: this machine's core count, as ctr-remote here; 1 gives the same bytes on every machine)"))
    .addOption(new Option('--estargz-record-in <file>', 'files to prioritise for prefetch: a record file as ctr-remote optimize --record-out writes ({"path": ...} per line), or one path per line'))
}

function intFlag(value: unknown, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} takes a whole number from ${min} to ${max}, not "${String(value)}"`)
  return n
}

export async function estargzOptionsFrom(opts: Record<string, unknown>): Promise<ConvertOptions> {
  const out: ConvertOptions = {}
  const chunkSize = intFlag(opts.estargzChunkSize, '--estargz-chunk-size', 1, 1 << 30)
  const level = intFlag(opts.estargzCompressionLevel, '--estargz-compression-level', 0, 9)
  if (chunkSize !== undefined) out.chunkSize = chunkSize
  if (level !== undefined) out.level = level
  if (opts.estargzCompressor === 'zlib' || opts.estargzCompressor === 'go') out.compressor = opts.estargzCompressor
  const parts = intFlag(opts.estargzParallelism, '--estargz-parallelism', 1, 1024)
  if (parts !== undefined) out.parts = parts
  if (typeof opts.estargzRecordIn === 'string') {
    const file = opts.estargzRecordIn
    const text = await readFile(file, 'utf8').catch(() => { throw new UsageError(`cannot read --estargz-record-in file ${file}`) })
    out.prioritizedFiles = parseRecordFile(text, file)
    out.allowMissingPrioritized = true
  }
  return out
}
