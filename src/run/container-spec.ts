import { UsageError } from '../errors.js'
import type { ImageConfig } from './image.js'
import { defaultPathEnv, defaultSpec, mergeEnv, type Spec, type SpecMount, type SpecUser } from './spec.js'

export interface ContainerSpecInput {
  namespace: string
  id: string
  image: ImageConfig
  /** Replaces the image's Entrypoint and Cmd entirely when given, as `ctr run IMAGE ID CMD...` does. */
  args: readonly string[]
  /** --env-file lines, then --env values, in order: later ones win; `KEY` alone unsets KEY. */
  env: readonly string[]
  mounts: readonly SpecMount[]
  cwd?: string | undefined
  /** A terminal, with the local one's size when known (0 otherwise). */
  tty?: { width: number; height: number } | undefined
  readOnly?: boolean
  /** Share the host's network namespace, /etc/hosts and /etc/resolv.conf. */
  netHost?: { hostname: string } | undefined
  memoryLimit?: number | undefined
  annotations?: Record<string, string>
  /** Resolved from the image's /etc/passwd and /etc/group (user.ts). */
  user: SpecUser
}

/**
 * The spec `ctr run` makes, in its order: containerd's defaults, env, extra mounts, the image config
 * (its Env under ours, Entrypoint+Cmd, WorkingDir, User), then read-only root, args, cwd, tty,
 * host networking, memory limit and annotations.
 */
export function containerSpec(i: ContainerSpecInput): Spec {
  const s = defaultSpec(i.namespace, i.id)
  s.mounts.push(...i.mounts.map((m) => ({ ...m, ...(m.options ? { options: [...m.options] } : {}) })))

  const imageEnv = i.image.Env && i.image.Env.length > 0 ? i.image.Env : [defaultPathEnv]
  // A bare KEY unsets the image's KEY (ctr drops it before the image's Env is seen, a no-op).
  s.process.env = mergeEnv(imageEnv, i.env)
  s.process.args = [...(i.image.Entrypoint ?? []), ...(i.image.Cmd ?? [])]
  s.process.cwd = i.image.WorkingDir || '/'
  s.process.user = { ...i.user, ...(i.user.additionalGids ? { additionalGids: [...i.user.additionalGids] } : {}) }

  if (i.readOnly) s.root.readonly = true
  if (i.args.length > 0) s.process.args = [...i.args]
  if (i.cwd) s.process.cwd = i.cwd
  if (i.tty) {
    s.process.terminal = true
    s.process.env.push('TERM=xterm')
    if (i.tty.width > 0 && i.tty.height > 0) s.process.consoleSize = { height: i.tty.height, width: i.tty.width }
  }
  if (i.netHost) {
    s.linux.namespaces = s.linux.namespaces.filter((n) => n.type !== 'network')
    s.mounts.push(
      { destination: '/etc/hosts', type: 'bind', source: '/etc/hosts', options: ['rbind', 'ro'] },
      { destination: '/etc/resolv.conf', type: 'bind', source: '/etc/resolv.conf', options: ['rbind', 'ro'] },
    )
    s.process.env = mergeEnv(s.process.env, [`HOSTNAME=${i.netHost.hostname}`])
  }
  if (i.memoryLimit !== undefined) s.linux.resources.memory = { limit: i.memoryLimit }
  if (i.annotations && Object.keys(i.annotations).length > 0) s.annotations = { ...i.annotations }
  if (s.process.args.length === 0) {
    throw new UsageError('the image has no command (neither Entrypoint nor Cmd): give one after the container id')
  }
  return s
}
