/**
 * The root filesystem every runnable fixture starts from: Debian's busybox-static binary plus
 * applet symlinks, /etc/passwd and /etc/group (root and app 1000:1000) and a sticky /tmp.
 * Copied from the local machine, never pulled from a registry, so builds work offline.
 */
import { readFile } from 'node:fs/promises'
import type { TarEntry } from './tar.js'

export const DEFAULT_BUSYBOX = '/bin/busybox'

/** Applets linked to /bin/busybox; enough for shells, tests of exit codes, env and ids. */
export const BUSYBOX_APPLETS = ['sh', 'echo', 'cat', 'ls', 'true', 'sleep', 'id', 'pwd', 'env'] as const

export const PASSWD = 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n'
export const GROUP = 'root:x:0:\napp:x:1000:\n'

/** The busybox path to use: $IPCR_BUSYBOX if set, else /bin/busybox. */
export function busyboxPath(explicit?: string): string {
  return explicit ?? process.env.IPCR_BUSYBOX ?? DEFAULT_BUSYBOX
}

export async function readBusybox(path: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (err) {
    throw new Error(
      `cannot read busybox at ${path} (${(err as Error).message}); ` +
        'install it with `apt-get update && apt-get install -y busybox-static` or set IPCR_BUSYBOX',
    )
  }
}

export function busyboxRootfs(busybox: Buffer): TarEntry[] {
  return [
    { path: 'bin', type: 'dir' },
    { path: 'bin/busybox', type: 'file', mode: 0o755, content: busybox },
    ...BUSYBOX_APPLETS.map((a): TarEntry => ({ path: `bin/${a}`, type: 'symlink', target: 'busybox' })),
    { path: 'etc', type: 'dir' },
    { path: 'etc/passwd', type: 'file', content: PASSWD },
    { path: 'etc/group', type: 'file', content: GROUP },
    { path: 'tmp', type: 'dir', mode: 0o1777 },
  ]
}
