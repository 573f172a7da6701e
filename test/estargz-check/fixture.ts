/** Tars for the eStargz tests, made with tar-stream (the way a layer from another tool would look). */
import { createHash } from 'node:crypto'
import tar from 'tar-stream'

export interface FixtureEntry {
  header: Partial<tar.Header> & Pick<tar.Header, 'name'>
  content?: Buffer
}

/** Deterministic bytes: half compressible text, half sha256 noise, so chunks are neither trivial nor stored. */
export function bytes(size: number, seed: string): Buffer {
  const out = Buffer.alloc(size)
  let block = createHash('sha256').update(seed).digest()
  for (let i = 0; i < size; i += 32) {
    if ((i >> 12) % 2 === 0) out.write(`${seed}:${i};`.padEnd(32, '.').slice(0, 32), i, 'latin1')
    else block.copy(out, i)
    block = createHash('sha256').update(block).digest()
  }
  return out
}

const MTIME = new Date('2024-05-06T07:08:09Z')
const MiB = 1 << 20

/** Every entry kind the brief lists: sizes 0, 1, 4 MiB, 4 MiB + 1, ~9 MiB, dirs, links, devices, xattrs, whiteouts, a duplicate. */
export function allKinds(): FixtureEntry[] {
  const user = { uid: 1000, gid: 1000, uname: 'user', gname: 'users', mtime: MTIME }
  const root = { uid: 0, gid: 0, uname: 'root', gname: 'root', mtime: MTIME }
  return [
    { header: { name: './', type: 'directory', mode: 0o755, ...root } },
    { header: { name: 'd/', type: 'directory', mode: 0o755, ...user } },
    { header: { name: 'd/empty', type: 'file', mode: 0o644, ...user }, content: Buffer.alloc(0) },
    { header: { name: 'd/one', type: 'file', mode: 0o600, ...user, pax: { 'SCHILY.xattr.user.color': 'blue', 'SCHILY.xattr.trusted.x': '' } }, content: Buffer.from('x') },
    { header: { name: 'd/four', type: 'file', mode: 0o644, ...user }, content: bytes(4 * MiB, 'four') },
    { header: { name: 'd/fourplus', type: 'file', mode: 0o644, ...user }, content: bytes(4 * MiB + 1, 'fourplus') },
    { header: { name: 'd/nine', type: 'file', mode: 0o4755, ...root }, content: bytes(9 * MiB + 12345, 'nine') },
    { header: { name: 'd/link', type: 'symlink', linkname: 'one', mode: 0o777, ...user } },
    { header: { name: 'd/hard', type: 'link', linkname: 'd/one', mode: 0o600, ...user } },
    { header: { name: 'dev/', type: 'directory', mode: 0o755, ...root } },
    { header: { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666, ...root } },
    { header: { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660, ...root, gid: 6, gname: 'disk' } },
    { header: { name: 'd/fifo', type: 'fifo', mode: 0o644, ...user } },
    { header: { name: 'd/.wh.gone', type: 'file', mode: 0o644, ...root }, content: Buffer.alloc(0) },
    { header: { name: 'd/sub/', type: 'directory', mode: 0o755, ...root } },
    { header: { name: 'd/sub/.wh..wh..opq', type: 'file', mode: 0o644, ...root }, content: Buffer.alloc(0) },
    { header: { name: 'd/dup', type: 'file', mode: 0o644, ...user }, content: Buffer.from('first version\n') },
    { header: { name: `d/${'long-name-'.repeat(15)}end`, type: 'file', mode: 0o644, ...user }, content: Buffer.from('a name longer than 100 bytes\n') },
    { header: { name: 'd/html<&>', type: 'file', mode: 0o644, ...user, mtime: new Date(0) }, content: Buffer.from('epoch mtime, HTML-escaped name\n') },
    { header: { name: './d/dup', type: 'file', mode: 0o640, ...root }, content: Buffer.from('second version wins\n') },
  ]
}

export async function tarOf(entries: readonly FixtureEntry[]): Promise<Buffer> {
  const pack = tar.pack()
  const chunks: Buffer[] = []
  const done = (async () => {
    for await (const c of pack as unknown as AsyncIterable<Buffer>) chunks.push(c)
  })()
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve())
      if (e.content) pack.entry({ ...e.header, size: e.content.length }, e.content, cb)
      else pack.entry(e.header, cb)
    })
  }
  pack.finalize()
  await done
  return Buffer.concat(chunks)
}
