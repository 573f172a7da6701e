import { readFile } from 'node:fs/promises'
import { posix } from 'node:path'
import { UsageError } from '../errors.js'
import { parseSize } from '../util/size.js'
import type { SpecMount } from './spec.js'

/** containerd's identifiers.Validate: what a container id (and so its snapshot key) may be. */
export function checkContainerId(id: string): void {
  if (id === '') throw new UsageError('no container id given: ipcr run [options] IMAGE ID [COMMAND [ARG...]]')
  if (id.length > 76) throw new UsageError(`container id "${id}" is longer than 76 characters`)
  if (!/^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/.test(id)) {
    throw new UsageError(`invalid container id "${id}": letters and digits, separated by single ".", "_" or "-"`)
  }
}

/** `KEY=VALUE`, or `KEY` alone to unset KEY (as ctr takes --env). */
export function checkEnv(value: string, flag = '--env'): string {
  const key = value.split('=', 1)[0] as string
  if (key === '' || /[\s\0]/.test(key)) throw new UsageError(`invalid ${flag} "${value}": expected KEY=VALUE`)
  if (value.includes('\0')) throw new UsageError(`invalid ${flag} "${value}": NUL in the value`)
  return value
}

/** An env file: one KEY=VALUE per line; blank lines and lines starting with # are skipped. */
export async function readEnvFile(path: string): Promise<string[]> {
  let text: string
  try { text = await readFile(path, 'utf8') } catch (err) {
    throw new UsageError(`cannot read --env-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
  return text.split('\n').map((l) => l.replace(/\r$/, '')).filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))
    .map((l, i) => checkEnv(l, `line ${i + 1} of --env-file ${path}`))
}

/** ctr's LabelArgs: `KEY=VALUE`, or `KEY` meaning `KEY=true`. */
export function parseLabels(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const v of values) {
    const eq = v.indexOf('=')
    const key = eq < 0 ? v : v.slice(0, eq)
    if (key === '') throw new UsageError(`invalid --label "${v}": expected KEY=VALUE`)
    out[key] = eq < 0 ? 'true' : v.slice(eq + 1)
  }
  return out
}

/**
 * ctr's --mount: comma-separated `type=`, `src=`/`source=`, `dst=`/`destination=`, `options=` (colon-separated),
 * e.g. `type=bind,src=/tmp,dst=/host,options=rbind:ro`. A bind mount without bind/rbind in its options
 * gets rbind, and its source must be an absolute path.
 */
export function parseMount(value: string): SpecMount {
  const bad = (why: string) => new UsageError(`invalid --mount "${value}": ${why}`)
  const m: SpecMount = { destination: '' }
  for (const field of splitCsv(value)) {
    const eq = field.indexOf('=')
    if (eq < 0) throw bad(`"${field}" is not key=value`)
    const key = field.slice(0, eq)
    const val = field.slice(eq + 1)
    switch (key) {
      case 'type': m.type = val; break
      case 'src': case 'source': m.source = val; break
      case 'dst': case 'destination': case 'target': m.destination = val; break
      case 'options': m.options = val === '' ? [] : val.split(':'); break
      default: throw bad(`unknown key "${key}" (expected type, src, dst or options)`)
    }
  }
  if (m.destination === '') throw bad('no dst=')
  if (!posix.isAbsolute(m.destination)) throw bad(`dst "${m.destination}" is not an absolute path`)
  m.type ??= 'bind'
  if (m.type === '') throw bad('empty type=')
  if (m.type === 'bind') {
    if (!m.source) throw bad('a bind mount needs src=')
    if (!posix.isAbsolute(m.source)) throw bad(`src "${m.source}" is not an absolute path`)
    const options = m.options ?? []
    if (!options.includes('bind') && !options.includes('rbind')) m.options = ['rbind', ...options]
  }
  return m
}

/** A comma-separated list where a field may be double-quoted (Go's encoding/csv, as ctr parses --mount). */
function splitCsv(value: string): string[] {
  const out: string[] = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string
    if (quoted) {
      if (ch === '"' && value[i + 1] === '"') { cur += '"'; i++ } else if (ch === '"') quoted = false
      else cur += ch
    } else if (ch === '"' && cur === '') quoted = true
    else if (ch === ',') { out.push(cur); cur = '' } else cur += ch
  }
  if (quoted) throw new UsageError(`invalid --mount "${value}": unterminated quote`)
  out.push(cur)
  return out
}

/** Bytes, optionally with a k, m or g suffix (powers of 1024). */
export function parseMemoryLimit(value: string): number {
  return parseSize(value, '--memory-limit')
}

/** --cwd must be absolute, as runc requires. */
export function checkCwd(cwd: string): string {
  if (!posix.isAbsolute(cwd)) throw new UsageError(`invalid --cwd "${cwd}": not an absolute path`)
  return cwd
}
