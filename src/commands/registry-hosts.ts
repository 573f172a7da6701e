import { join } from 'node:path'
import type { CommandResult } from '../cli/globals.js'
import { IpcrError } from '../errors.js'
import { DEFAULT_MIRROR, hostsTomlFiles } from '../registry/hosts-toml.js'
import { writeFileAtomic } from '../util/fs-util.js'

interface Options { dir?: string; mirror: string }

/** containerd's usual hosts directory: where the printed files say they belong. */
const CONTAINERD_HOSTS_DIR = '/etc/containerd/certs.d'

/**
 * `ipcr registry hosts HOST... [--dir DIR] [--mirror URL]`: containerd hosts.toml files that pull
 * each registry through ipcr's registry first. Printed, each after a `# PATH` line, or written.
 */
export async function run(args: string[], opts: Record<string, unknown>): Promise<CommandResult> {
  const o = opts as unknown as Options
  // Every host is checked before anything is written: a typo in the third leaves no half-done set.
  const files = hostsTomlFiles(args, o.mirror ?? DEFAULT_MIRROR)
  if (o.dir === undefined) {
    return { text: files.map((f) => `# ${join(CONTAINERD_HOSTS_DIR, f.path)}\n${f.text}`).join('\n') }
  }
  const written: string[] = []
  for (const f of files) {
    const path = join(o.dir, f.path)
    // Temp name + rename: containerd reads these on every pull and must never see half a file.
    await writeFileAtomic(path, Buffer.from(f.text)).catch((err: NodeJS.ErrnoException) => {
      throw new IpcrError(`cannot write ${path}: ${err.code ?? err.message}`)
    })
    written.push(path)
  }
  return { text: written.join('\n') }
}
