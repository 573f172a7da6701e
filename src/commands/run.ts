import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { ContainerdClient } from '../containerd/client.js'
import { UsageError } from '../errors.js'
import { checkContainerId, checkCwd, checkEnv, parseLabels, parseMemoryLimit, parseMount, readEnvFile } from '../run/options.js'
import { runContainer } from '../run/run.js'
import { checkUserSyntax } from '../run/user.js'

interface Options {
  snapshotter?: string; rm: boolean; tty: boolean; detach: boolean; env?: string[]; envFile?: string; cwd?: string
  user?: string; mount?: string[]; netHost: boolean; readOnly: boolean; memoryLimit?: string; label?: string[]
}

/** `ipcr run [options] IMAGE ID [COMMAND [ARG...]]`: exits with the container's exit code, as ctr run does. */
export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = opts as unknown as Options
  const [image = '', id = '', ...command] = args
  if (image === '') throw new UsageError('no image given: ipcr run [options] IMAGE ID [COMMAND [ARG...]]')
  checkContainerId(id)
  if (o.rm && o.detach) throw new UsageError('--rm and --detach cannot be used together')
  if (o.user !== undefined) checkUserSyntax(o.user)
  const env = [...(o.envFile ? await readEnvFile(o.envFile) : []), ...(o.env ?? []).map((e) => checkEnv(e))]
  const request = {
    image, id, args: command, snapshotter: o.snapshotter, rm: o.rm, tty: o.tty, detach: o.detach, env,
    cwd: o.cwd === undefined ? undefined : checkCwd(o.cwd), user: o.user, mounts: (o.mount ?? []).map(parseMount),
    netHost: o.netHost, readOnly: o.readOnly, labels: parseLabels(o.label ?? []),
    memoryLimit: o.memoryLimit === undefined ? undefined : parseMemoryLimit(o.memoryLimit),
  }
  const client = await ContainerdClient.connect({ address: globals.address, namespace: globals.namespace })
  try {
    return { exitCode: await runContainer(client, request) }
  } finally {
    await client.close()
  }
}
