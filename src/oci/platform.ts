import { arch as nodeArch, platform as nodePlatform } from 'node:process'
import { UsageError } from '../errors.js'

/** OCI platform; field order is the Go struct's, which matters when marshalling (see go-json.ts). */
export interface Platform {
  architecture: string
  os: string
  'os.version'?: string
  'os.features'?: string[]
  variant?: string
}

const archFromNode: Readonly<Record<string, string>> = {
  x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64',
}

/** Normalise as containerd's platforms package does, so "x86_64", "aarch64" and "arm64/v8" compare equal. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase()
  let architecture = p.architecture.toLowerCase()
  let variant = p.variant?.toLowerCase()
  switch (architecture) {
    case 'i386': architecture = '386'; variant = undefined; break
    case 'x86_64': case 'x86-64': case 'amd64': architecture = 'amd64'; if (variant === 'v1') variant = undefined; break
    case 'aarch64': case 'arm64': architecture = 'arm64'; if (variant === '8' || variant === 'v8' || variant === '') variant = undefined; break
    case 'armhf': architecture = 'arm'; variant = 'v7'; break
    case 'armel': architecture = 'arm'; variant = 'v6'; break
    case 'arm': if (variant === undefined || variant === '' || variant === '7') variant = 'v7'; else if (/^[5-8]$/.test(variant)) variant = `v${variant}`; break
  }
  const out: Platform = { architecture, os }
  if (p['os.version'] !== undefined) out['os.version'] = p['os.version']
  if (p['os.features'] !== undefined) out['os.features'] = p['os.features']
  if (variant !== undefined && variant !== '') out.variant = variant
  return out
}

/** The platform this process runs on (containerd's platforms.DefaultSpec()). */
export function hostPlatform(): Platform {
  const architecture = archFromNode[nodeArch] ?? nodeArch
  return normalizePlatform({ architecture, os: nodePlatform === 'win32' ? 'windows' : nodePlatform })
}

/** Parse "os[/arch[/variant]]" or "arch" as ctr's --platform does. */
export function parsePlatform(spec: string): Platform {
  const parts = spec.trim().split('/')
  if (parts.some((p) => p === '') || parts.length > 3) {
    throw new UsageError(`invalid platform "${spec}": expected os[/arch[/variant]], e.g. linux/amd64 or linux/arm64/v8`)
  }
  const host = hostPlatform()
  const [a, b, c] = parts as [string, string?, string?]
  const knownOs = new Set(['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos', 'aix', 'plan9', 'android', 'ios'])
  if (b === undefined) {
    // A lone word is an OS if it names one, otherwise an architecture on the host OS.
    return knownOs.has(a.toLowerCase()) ? normalizePlatform({ os: a, architecture: host.architecture, ...(host.variant ? { variant: host.variant } : {}) })
      : normalizePlatform({ os: host.os, architecture: a })
  }
  return normalizePlatform({ os: a, architecture: b, ...(c !== undefined ? { variant: c } : {}) })
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter((x) => x !== undefined && x !== '').join('/')
}

/**
 * Does `candidate` satisfy `wanted`? Exact after normalisation, as containerd's platforms.Ordered and
 * DefaultStrict (what ctr-remote uses): same OS, architecture and variant.
 */
export function platformMatches(wanted: Platform, candidate: Platform | undefined): boolean {
  if (candidate === undefined) return false
  const w = normalizePlatform(wanted)
  const c = normalizePlatform(candidate)
  return w.os === c.os && w.architecture === c.architecture && (w.variant ?? '') === (c.variant ?? '')
}

/** Which manifests of an index to keep: every one, or those matching any listed platform. */
export type PlatformSelection = { all: true } | { all: false; only: Platform[] }

export function selectsPlatform(sel: PlatformSelection, candidate: Platform | undefined): boolean {
  return sel.all || sel.only.some((p) => platformMatches(p, candidate))
}

export function describeSelection(sel: PlatformSelection): string {
  return sel.all ? 'all platforms' : sel.only.map(formatPlatform).join(', ')
}
