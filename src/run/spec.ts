/**
 * The OCI runtime spec ipcr hands runc (through containerd), in the JSON shape of Go's specs.Spec:
 * only the fields containerd's client fills in for `ctr run`, with their omitempty behaviour.
 */
export interface Spec {
  ociVersion: string
  process: SpecProcess
  root: { path: string; readonly?: boolean }
  hostname?: string
  mounts: SpecMount[]
  annotations?: Record<string, string>
  linux: SpecLinux
}

export interface SpecUser { uid: number; gid: number; additionalGids?: number[] }

export interface SpecProcess {
  terminal?: boolean
  consoleSize?: { height: number; width: number }
  user: SpecUser
  args?: string[]
  env?: string[]
  cwd: string
  capabilities: { bounding: string[]; effective: string[]; permitted: string[] }
  rlimits: Array<{ type: string; hard: number; soft: number }>
  noNewPrivileges?: boolean
}

export interface SpecMount { destination: string; type?: string; source?: string; options?: string[] }

export interface DeviceRule { allow: boolean; type?: string; major?: number; minor?: number; access: string }

export interface SpecLinux {
  resources: { devices: DeviceRule[]; memory?: { limit: number } }
  cgroupsPath: string
  namespaces: Array<{ type: string; path?: string }>
  maskedPaths: string[]
  readonlyPaths: string[]
}

/** runtime-spec version containerd 1.6 vendors. */
export const ociVersion = '1.0.2-dev'

/** The PATH an image without Env gets (containerd's defaultUnixEnv). */
export const defaultPathEnv = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

const defaultCaps = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
]

/** /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue, /sys and /run, as containerd's oci.defaultMounts. */
export function defaultMounts(): SpecMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
  ]
}

/** containerd's WithDefaultUnixDevices: deny all, then null, random, full, tty, zero, urandom, console, pts, ptmx. */
function defaultDeviceRules(): DeviceRule[] {
  const c = (major: number, minor?: number): DeviceRule => ({ allow: true, type: 'c', major, ...(minor === undefined ? {} : { minor }), access: 'rwm' })
  return [{ allow: false, access: 'rwm' }, c(1, 3), c(1, 8), c(1, 7), c(5, 0), c(1, 5), c(1, 9), c(5, 1), c(136), c(5, 2)]
}

/**
 * containerd's populateDefaultUnixSpec plus WithDefaultUnixDevices (what `ctr run` starts from):
 * root, new pid/ipc/uts/mount/network namespaces, the default capabilities, masked and read-only
 * /proc paths, RLIMIT_NOFILE 1024 and the cgroup /<namespace>/<id>.
 */
export function defaultSpec(namespace: string, id: string): Spec {
  return {
    ociVersion,
    process: {
      user: { uid: 0, gid: 0 },
      cwd: '/',
      capabilities: { bounding: [...defaultCaps], effective: [...defaultCaps], permitted: [...defaultCaps] },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs' },
    mounts: defaultMounts(),
    linux: {
      resources: { devices: defaultDeviceRules() },
      cgroupsPath: `/${namespace}/${id}`,
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type })),
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  }
}

/**
 * containerd's replaceOrAppendEnvValues: each override replaces the default with the same key or is
 * appended; an override without "=" removes that key.
 */
export function mergeEnv(defaults: readonly string[], overrides: readonly string[]): string[] {
  const out: Array<string | undefined> = [...defaults]
  const index = new Map<string, number>()
  defaults.forEach((e, i) => index.set(e.split('=', 1)[0] as string, i))
  for (const value of overrides) {
    const eq = value.indexOf('=')
    const key = eq < 0 ? value : value.slice(0, eq)
    const at = index.get(key)
    if (eq < 0) {
      if (at !== undefined) out[at] = undefined
      continue
    }
    if (at !== undefined) out[at] = value
    else { index.set(key, out.length); out.push(value) }
  }
  return out.filter((e): e is string => e !== undefined)
}
