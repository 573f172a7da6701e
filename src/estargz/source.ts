/**
 * Where a reader gets blob bytes from: anything that can serve a byte range. A file, kubo's `cat`
 * with offset/length, or a containerd content ReaderAt each fit in a few lines.
 */
import { open, type FileHandle } from 'node:fs/promises'

export interface RandomAccessSource {
  readonly size: number
  /** Exactly `length` bytes from `offset` (the caller keeps ranges inside [0, size)). */
  read(offset: number, length: number): Promise<Uint8Array>
}

export function bytesSource(bytes: Uint8Array): RandomAccessSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  }
}

export interface FileSource extends RandomAccessSource {
  close(): Promise<void>
}

export async function fileSource(path: string): Promise<FileSource> {
  const fh: FileHandle = await open(path, 'r')
  const { size } = await fh.stat()
  return {
    size,
    async read(offset, length) {
      const buf = Buffer.allocUnsafe(length)
      let got = 0
      while (got < length) {
        const { bytesRead } = await fh.read(buf, got, length - got, offset + got)
        if (bytesRead === 0) throw new RangeError(`${path}: read past the end (${offset + got} of ${size})`)
        got += bytesRead
      }
      return buf
    },
    close: () => fh.close(),
  }
}
