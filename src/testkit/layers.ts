/**
 * The contents of the non-base fixture layers. Each exists to exercise one tar feature that
 * converters and unpackers get wrong: hard links, symlinks (relative, absolute, dangling),
 * xattrs, empty files and directories, a file larger than eStargz's 4 MiB chunk, non-root
 * owners, long and non-ASCII names, then whiteouts and an opaque directory over them.
 */
import { prngBytes } from './prng.js'
import type { TarEntry } from './tar.js'

/** 5 MiB + 123 bytes: over one 4 MiB eStargz chunk, and not a multiple of any block size. */
export const BIG_FILE_SIZE = 5 * 1024 * 1024 + 123
export const BIG_FILE_SEED = 'ipcr-fixture-multi-big'
export const BIG_FILE_PATH = 'data/random.bin'
export const XATTR_PATH = 'data/xattr.txt'
export const XATTR_NAME = 'user.ipcr'
export const XATTR_VALUE = 'hello-xattr'
export const HARDLINK_PATH = 'data/hardlink.txt'
export const HARDLINK_TARGET = 'data/hard-target.txt'
export const LONG_NAME_PATH = `data/long/${'d'.repeat(60)}/${'n'.repeat(80)}.txt`
export const UNICODE_PATH = 'data/unicodé-名前.txt'

/** Layer 2 of the multi image. */
export function featureLayer(): TarEntry[] {
  return [
    { path: 'data', type: 'dir' },
    { path: 'data/tree/a/b/c/deep.txt', type: 'file', content: 'deep\n' },
    { path: 'data/tree/a/x.txt', type: 'file', content: 'x from layer 2\n' },
    { path: 'data/tree/empty-dir', type: 'dir' },
    { path: 'data/tree/empty.txt', type: 'file', content: '' },
    { path: 'data/empty', type: 'file', content: '' },
    { path: HARDLINK_TARGET, type: 'file', content: 'hard link target\n' },
    { path: HARDLINK_PATH, type: 'hardlink', target: HARDLINK_TARGET },
    { path: 'data/hardlink-2.txt', type: 'hardlink', target: HARDLINK_TARGET },
    { path: 'data/symlink-rel', type: 'symlink', target: 'hard-target.txt' },
    { path: 'data/symlink-abs', type: 'symlink', target: '/bin/busybox' },
    { path: 'data/symlink-dangling', type: 'symlink', target: 'does-not-exist' },
    { path: 'data/symlink-dir', type: 'symlink', target: 'tree/a' },
    { path: XATTR_PATH, type: 'file', content: 'has an xattr\n', xattrs: { [XATTR_NAME]: XATTR_VALUE } },
    { path: BIG_FILE_PATH, type: 'file', content: prngBytes(BIG_FILE_SEED, BIG_FILE_SIZE) },
    { path: 'data/script.sh', type: 'file', mode: 0o755, content: '#!/bin/sh\necho hello from layer 2\n' },
    { path: LONG_NAME_PATH, type: 'file', content: 'long name\n' },
    { path: UNICODE_PATH, type: 'file', content: 'non-ascii name\n' },
    { path: 'data/to-delete.txt', type: 'file', content: 'deleted by layer 3\n' },
    { path: 'data/to-delete-dir/file.txt', type: 'file', content: 'deleted with its directory by layer 3\n' },
    { path: 'data/opaque/old1.txt', type: 'file', content: 'hidden by the opaque marker\n' },
    { path: 'data/opaque/sub/old2.txt', type: 'file', content: 'hidden by the opaque marker\n' },
    { path: 'home/app', type: 'dir', mode: 0o750, uid: 1000, gid: 1000 },
    { path: 'home/app/owned.txt', type: 'file', mode: 0o600, uid: 1000, gid: 1000, content: 'owned by app\n' },
  ]
}

/** Layer 3 of the multi image: deletes and hides parts of layer 2, and changes one file. */
export function deletionLayer(): TarEntry[] {
  return [
    { path: 'data', type: 'dir' },
    { path: 'data/.wh.to-delete.txt', type: 'file', content: '' },
    { path: 'data/.wh.to-delete-dir', type: 'file', content: '' },
    { path: 'data/opaque', type: 'dir' },
    { path: 'data/opaque/.wh..wh..opq', type: 'file', content: '' },
    { path: 'data/opaque/new.txt', type: 'file', content: 'only file left in the opaque dir\n' },
    { path: 'data/tree/a/x.txt', type: 'file', content: 'x from layer 3\n' },
    { path: 'data/added-in-3.txt', type: 'file', content: 'added by layer 3\n' },
  ]
}

/** The only layer of the platforms image's linux/arm64 manifest (never run, only selected). */
export function arm64Layer(): TarEntry[] {
  return [{ path: 'hello.txt', type: 'file', content: 'hello from linux/arm64\n' }]
}

/** What the multi image's final filesystem should and should not contain (for unpack tests). */
export const MULTI_EXPECT = {
  present: ['bin/busybox', 'data/opaque/new.txt', 'data/added-in-3.txt', HARDLINK_PATH, XATTR_PATH, BIG_FILE_PATH],
  absent: ['data/to-delete.txt', 'data/to-delete-dir', 'data/opaque/old1.txt', 'data/opaque/sub'],
  contents: { 'data/tree/a/x.txt': 'x from layer 3\n', 'data/opaque/new.txt': 'only file left in the opaque dir\n' },
} as const
