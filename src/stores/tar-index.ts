import { open } from 'node:fs/promises'
import { posix } from 'node:path'
import { IntegrityError } from '../errors.js'

export interface TarEntry {
  name: string
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other'
  /** Byte offset of the entry's data in the tar file. */
  offset: number
  size: number
  linkname: string
}

function field(buf: Buffer, start: number, len: number): string {
  const s = buf.subarray(start, start + len)
  const nul = s.indexOf(0)
  return s.subarray(0, nul < 0 ? len : nul).toString('utf8')
}

function numeric(buf: Buffer, start: number, len: number): number {
  const b = buf.subarray(start, start + len)
  if ((b[0] ?? 0) & 0x80) { // GNU base-256 for sizes over 8 GiB
    let n = 0
    for (let i = 1; i < len; i++) n = n * 256 + (b[i] ?? 0)
    return n
  }
  const text = field(buf, start, len).trim()
  return text === '' ? 0 : parseInt(text, 8)
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {}
  let i = 0
  while (i < data.length) {
    const sp = data.indexOf(0x20, i)
    if (sp < 0) break
    const len = parseInt(data.subarray(i, sp).toString('ascii'), 10)
    if (!Number.isFinite(len) || len <= 0) break
    const record = data.subarray(sp + 1, i + len - 1).toString('utf8')
    const eq = record.indexOf('=')
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1)
    i += len
  }
  return out
}

/**
 * Index a tar file's entries by cleaned path without reading their data, so blobs inside a
 * `docker save` archive can be streamed in place. Understands ustar, PAX and GNU long names.
 */
export async function indexTar(path: string): Promise<Map<string, TarEntry>> {
  const fh = await open(path, 'r')
  const entries = new Map<string, TarEntry>()
  try {
    const { size: fileSize } = await fh.stat()
    const header = Buffer.alloc(512)
    let pos = 0
    let pax: Record<string, string> = {}
    let longName: string | undefined
    let longLink: string | undefined
    while (pos + 512 <= fileSize) {
      await fh.read(header, 0, 512, pos)
      if (header.every((b) => b === 0)) break
      const checksum = numeric(header, 148, 8)
      let sum = 0
      for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] as number)
      if (sum !== checksum) throw new IntegrityError(`${path} is not a tar archive (bad header checksum at byte ${pos})`)
      const typeflag = String.fromCharCode(header[156] as number)
      const size = pax.size !== undefined ? Number(pax.size) : numeric(header, 124, 12)
      const dataOffset = pos + 512
      const next = dataOffset + Math.ceil(size / 512) * 512
      if (typeflag === 'x' || typeflag === 'L' || typeflag === 'K') {
        const data = Buffer.alloc(size)
        await fh.read(data, 0, size, dataOffset)
        if (typeflag === 'x') pax = { ...pax, ...parsePax(data) }
        else if (typeflag === 'L') longName = field(data, 0, size)
        else longLink = field(data, 0, size)
        pos = next
        continue
      }
      if (typeflag === 'g') { pos = next; continue }
      const prefix = header.subarray(257, 263).toString('ascii').startsWith('ustar') ? field(header, 345, 155) : ''
      const rawName = pax.path ?? longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100))
      const name = posix.normalize(rawName).replace(/^(\.\/)+|^\/+|\/+$/g, '')
      const type = typeflag === '0' || typeflag === '\0' || typeflag === '7' ? 'file'
        : typeflag === '5' ? 'dir' : typeflag === '2' ? 'symlink' : typeflag === '1' ? 'hardlink' : 'other'
      entries.set(name, { name, type, offset: dataOffset, size, linkname: pax.linkpath ?? longLink ?? field(header, 157, 100) })
      pax = {}
      longName = undefined
      longLink = undefined
      pos = next
    }
    return entries
  } finally {
    await fh.close()
  }
}
