import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { TarScanner, type TarEntry as Scanned } from '../../src/estargz/tar.js'
import { NotSplittableError, TarParts } from '../../src/pull/tar-parts.js'
import { tarBuffer, type TarEntry } from '../../src/testkit/index.js'

function scan(bytes: Buffer): Scanned[] {
  const out: Scanned[] = []
  const s = new TarScanner((e) => out.push(e))
  s.push(bytes)
  s.finish()
  return out
}

/** Feed `tar` in `step`-byte pieces; every part, the directory part last. */
function split(tar: Buffer, step: number, firstPartBytes: number, partBytes: number): { parts: Buffer[]; splitter: TarParts } {
  const splitter = new TarParts({ firstPartBytes, partBytes })
  const parts: Buffer[] = []
  for (let i = 0; i < tar.length; i += step) parts.push(...splitter.push(tar.subarray(i, i + step)))
  parts.push(...splitter.end())
  return { parts, splitter }
}

const entries: TarEntry[] = [
  { path: 'etc/os-release', type: 'file', content: 'ID=ipcr\n' },
  { path: 'usr/lib/python3/dist-packages', type: 'dir', mode: 0o750, xattrs: { 'user.kept': 'yes' } },
  { path: 'usr/lib/python3/dist-packages/big.bin', type: 'file', content: Buffer.alloc(5000, 7) },
  { path: `usr/share/${'long-name-'.repeat(20)}/file.txt`, type: 'file', content: 'a name past 100 bytes, in a PAX header' },
  { path: 'usr/bin/python3', type: 'file', mode: 0o755, content: Buffer.alloc(1500, 1) },
  { path: 'usr/bin/python', type: 'symlink', target: 'python3' },
  { path: 'usr/bin/python3.11', type: 'hardlink', target: 'usr/bin/python3' },
]

describe('TarParts', () => {
  it('cuts the stream at entry boundaries into archives that, in order, are the stream itself', async () => {
    const tar = await tarBuffer(entries)
    for (const step of [7, 512, 4096, tar.length]) {
      const { parts, splitter } = split(tar, step, 1, 1024)
      const data = parts.slice(0, -1)
      expect(data.length).toBeGreaterThan(5)
      expect(Buffer.concat(data).equals(tar)).toBe(true)
      // Each part reads on its own as whole entries (a PAX header stays with its entry).
      const names = data.flatMap((p) => scan(p).map((e) => e.name))
      expect(names).toEqual(scan(tar).map((e) => e.name))
      expect(splitter.diffId).toBe(`sha256:${createHash('sha256').update(tar).digest('hex')}`)
    }
  })

  it('ends with every directory header again, as the stream had them (mode, xattrs)', async () => {
    const tar = await tarBuffer(entries)
    const { parts } = split(tar, 1000, 1, 1024)
    const again = scan(parts[parts.length - 1] as Buffer)
    const dirs = scan(tar).filter((e) => e.type === 'dir')
    expect(again.map((e) => e.name)).toEqual(dirs.map((e) => e.name))
    expect(again.every((e) => e.type === 'dir')).toBe(true)
    const pkg = again.find((e) => e.name === 'usr/lib/python3/dist-packages/')
    expect(pkg?.mode).toBe(0o750)
    expect(pkg?.xattrs?.get('user.kept')?.toString()).toBe('yes')
  })

  it('leaves out directories that a later entry of the layer replaced with a file', async () => {
    const first = await tarBuffer([{ path: 'opt/app/sub', type: 'dir' }, { path: 'opt/keep', type: 'dir' }])
    const second = await tarBuffer([{ path: 'opt/app', type: 'file', content: 'now a file' }])
    // One stream: the first archive without its end blocks, then the second.
    const tar = Buffer.concat([first.subarray(0, first.length - 1024), second])
    const { parts } = split(tar, 333, 1, 1 << 20)
    // opt/ came twice (the second archive has it too): its last header is the one kept.
    expect(scan(parts[parts.length - 1] as Buffer).map((e) => e.name)).toEqual(['opt/keep/', 'opt/'])
  })

  it('refuses a base layer with a whiteout, which only a whole Apply handles as containerd would', async () => {
    const tar = await tarBuffer([{ path: 'etc/.wh..wh..opq', type: 'file', content: '' }, { path: 'etc/a', type: 'file', content: 'a' }])
    expect(() => split(tar, 100, 1, 1024)).toThrow(NotSplittableError)
    const plain = await tarBuffer([{ path: 'var/.wh.cache', type: 'file', content: '' }])
    expect(() => split(plain, 100, 1, 1024)).toThrow(/var\/\.wh\.cache is a whiteout/)
  })

  it('refuses a stream that stops in the middle of an entry', async () => {
    const tar = await tarBuffer(entries)
    expect(() => split(tar.subarray(0, 2000), 100, 1, 1024)).toThrow(/truncated/)
  })
})
