/**
 * A deterministic tar writer. Layer digests must not depend on when or where the kit runs, so
 * every header carries FIXED_DATE, uid/gid default to 0, names are sorted byte-wise (a parent
 * directory's name is a prefix of its children's, so parents always come first), missing
 * parent directories are added, and a hard link must name an entry written before it.
 */
import { Readable, Writable } from 'node:stream'
import tar, { type Header } from 'tar-stream'
import { FIXED_DATE } from './constants.js'
import { byteOrder } from './gojson.js'

type HeaderArg = Partial<Header> & Pick<Header, 'name'>

export interface TarEntry {
  /** Path inside the archive, relative, `/`-separated, no leading `/` and no trailing `/`. */
  path: string
  type: 'file' | 'dir' | 'symlink' | 'hardlink'
  /** Permission bits (may include setuid/sticky); defaults 0644 files, 0755 dirs, 0777 links. */
  mode?: number
  uid?: number
  gid?: number
  /** File payload, small enough to hold in memory. */
  content?: Buffer | string
  /** File payload streamed from elsewhere (a blob file, a generator); `size` must be exact. */
  source?: { size: number; open: () => Readable }
  /** Symlink target, or the archive path of a hard link's target. */
  target?: string
  /** Extended attributes, written as PAX `SCHILY.xattr.<name>` records (text values). */
  xattrs?: Record<string, string>
}

const DEFAULT_MODE = { file: 0o644, dir: 0o755, symlink: 0o777, hardlink: 0o644 } as const

function tarName(e: TarEntry): string {
  return e.type === 'dir' ? `${e.path}/` : e.path
}

/** Entries in on-disk order, with implicit parent directories made explicit. */
export function normalizeEntries(entries: readonly TarEntry[]): TarEntry[] {
  const byName = new Map<string, TarEntry>()
  for (const e of entries) {
    if (e.path === '' || e.path.startsWith('/') || e.path.endsWith('/')) {
      throw new Error(`tar entry path must be relative without a trailing slash: ${JSON.stringify(e.path)}`)
    }
    const name = tarName(e)
    if (byName.has(name)) throw new Error(`duplicate tar entry ${name}`)
    byName.set(name, e)
  }
  for (const e of entries) {
    const parts = e.path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/')
      if (!byName.has(`${dir}/`)) byName.set(`${dir}/`, { path: dir, type: 'dir' })
    }
  }
  const names = [...byName.keys()].sort(byteOrder)
  const seen = new Set<string>()
  const out: TarEntry[] = []
  for (const name of names) {
    const e = byName.get(name) as TarEntry
    if (e.type === 'hardlink' && (e.target === undefined || !seen.has(e.target))) {
      throw new Error(`hard link ${e.path} must follow its target ${String(e.target)} in sorted order`)
    }
    seen.add(e.path)
    out.push(e)
  }
  return out
}

function headerOf(e: TarEntry): HeaderArg {
  const size = e.type === 'file' ? (e.source ? e.source.size : Buffer.byteLength(e.content ?? '')) : 0
  const header: HeaderArg = {
    name: tarName(e),
    type: e.type === 'dir' ? 'directory' : e.type === 'hardlink' ? 'link' : e.type,
    mode: e.mode ?? DEFAULT_MODE[e.type],
    uid: e.uid ?? 0,
    gid: e.gid ?? 0,
    size,
    mtime: FIXED_DATE,
  }
  if (e.type === 'symlink' || e.type === 'hardlink') {
    if (e.target === undefined) throw new Error(`${e.type} ${e.path} has no target`)
    header.linkname = e.target
  }
  if (e.xattrs) {
    const pax: Record<string, string> = {}
    for (const k of Object.keys(e.xattrs).sort(byteOrder)) {
      // PAX records are "<len> key=value\n"; tar-stream sizes them in bytes, but keys stop at '='.
      if (k.includes('=')) throw new Error(`xattr name ${k} of ${e.path} contains '='`)
      pax[`SCHILY.xattr.${k}`] = e.xattrs[k] as string
    }
    header.pax = pax
  }
  return header
}

/**
 * Write a tar of `entries` to `dest` (which is left open), honouring back-pressure so streamed
 * payloads never pile up in memory.
 */
export async function writeTar(entries: readonly TarEntry[], dest: Writable): Promise<void> {
  const pack = tar.pack()
  const piped = (async () => {
    for await (const chunk of pack as unknown as AsyncIterable<Buffer>) {
      if (!dest.write(chunk)) await drained(dest)
    }
  })()
  // A failing destination must also fail the entry writes below, or they would wait forever.
  piped.catch((err: Error) => pack.destroy(err))
  try {
    for (const e of normalizeEntries(entries)) {
      const header = headerOf(e)
      if (e.type === 'file' && e.source) {
        // The executor runs synchronously, so `sink` is set before it is used.
        let sink!: Writable
        const entryDone = new Promise<void>((res, rej) => {
          sink = pack.entry(header, (err) => (err ? rej(err) : res())) as unknown as Writable
        })
        entryDone.catch(() => undefined) // awaited below; may fail while we are still writing
        const source = e.source.open()
        try {
          for await (const chunk of source) {
            if (!sink.write(chunk as Buffer)) await drained(sink)
          }
        } finally {
          source.destroy()
        }
        sink.end()
        await entryDone
      } else {
        const body = e.type === 'file' ? Buffer.from(e.content ?? '') : undefined
        await new Promise<void>((res, rej) => {
          const cb = (err?: Error | null) => (err ? rej(err) : res())
          if (body) pack.entry(header, body, cb)
          else pack.entry(header, cb)
        })
      }
    }
    pack.finalize()
    await piped
  } catch (err) {
    pack.destroy(err as Error)
    // When the destination failed, its error is the cause; ours is only the consequence.
    const destErr = await piped.then(
      () => undefined,
      (e: unknown) => e,
    )
    throw destErr ?? err
  }
}

/** Wait for 'drain'; a stream that errors or closes first will never drain, so that rejects. */
function drained(stream: Writable): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      stream.off('drain', onDrain)
      stream.off('error', onError)
      stream.off('close', onClose)
      if (err) reject(err)
      else resolve()
    }
    const onDrain = () => done()
    const onError = (err: Error) => done(err)
    const onClose = () => done(new Error('stream closed before it drained'))
    stream.on('drain', onDrain)
    stream.on('error', onError)
    stream.on('close', onClose)
  })
}

/** A whole tar in memory; for the small fixture layers. */
export async function tarBuffer(entries: readonly TarEntry[]): Promise<Buffer> {
  const chunks: Buffer[] = []
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk)
      cb()
    },
  })
  await writeTar(entries, sink)
  return Buffer.concat(chunks)
}
