/**
 * The memo a store keeps of a layer conversion, so converting the same image again costs nothing,
 * and the check that decides whether a memo may be reused.
 *
 * A memo names what it was made from and what came out, in one readable, versioned line:
 *
 *   ipcr-memo/1 estargz source=sha256:… converted=sha256:… chunk-size=4194304 level=9 …
 *
 * Labels travel: stargz-snapshotter's converter copies every label of a source layer onto the
 * layer it writes, so a memo found on a blob may have been made for another blob. It is reused
 * only when it names the very source about to be converted, the same settings, and (on the
 * converted blob's side) that blob's own digest; anything else is no memo at all.
 */
import { createHash } from 'node:crypto'
import { isDigest, type Digest } from './digest.js'

export const MemoVersion = 'ipcr-memo/1'

/** A kind of conversion and every setting that changes its bytes, as words a label can hold. */
export interface Conversion {
  /** e.g. `estargz`. */
  kind: string
  /** Setting name to value, e.g. `level` → `9`; names and values without spaces or `=`. */
  settings: Readonly<Record<string, string>>
}

export interface Memo {
  source: Digest
  converted: Digest
  conversion: Conversion
}

const word = /^[!-<>-~]+$/ // printable ASCII but space and '='

function checkWord(what: string, value: string): void {
  if (!word.test(value)) throw new Error(`conversion memo: ${what} ${JSON.stringify(value)} must be printable ASCII without spaces or '='`)
}

/** The settings in one canonical order (by name), so equal settings always compare equal. */
function canonicalSettings(settings: Readonly<Record<string, string>>): string {
  return Object.keys(settings).sort().map((k) => `${k}=${settings[k] as string}`).join(' ')
}

/**
 * The name a store files the memo under, e.g. `estargz-0123456789abcdef`: different settings get
 * different names, so memos of several settings live side by side on one source.
 */
export function conversionKey(c: Conversion): string {
  checkWord('kind', c.kind)
  return `${c.kind}-${createHash('sha256').update(`${c.kind} ${canonicalSettings(c.settings)}`).digest('hex').slice(0, 16)}`
}

export function sameConversion(a: Conversion, b: Conversion): boolean {
  return a.kind === b.kind && canonicalSettings(a.settings) === canonicalSettings(b.settings)
}

/** The memo as one line: version, kind, source, converted, then the settings in the order given. */
export function encodeMemo(m: Memo): string {
  checkWord('kind', m.conversion.kind)
  if (!isDigest(m.source)) throw new Error(`conversion memo: source ${JSON.stringify(m.source)} is not a sha256 digest`)
  if (!isDigest(m.converted)) throw new Error(`conversion memo: converted ${JSON.stringify(m.converted)} is not a sha256 digest`)
  const settings = Object.entries(m.conversion.settings).map(([k, v]) => {
    checkWord('setting', k)
    checkWord(`value of ${k}`, v)
    if (k === 'source' || k === 'converted') throw new Error(`conversion memo: "${k}" cannot be a setting`)
    return `${k}=${v}`
  })
  return [MemoVersion, m.conversion.kind, `source=${m.source}`, `converted=${m.converted}`, ...settings].join(' ')
}

/** A memo from its line, or undefined for anything else (another version, a bare digest, junk). */
export function parseMemo(text: string | undefined): Memo | undefined {
  if (text === undefined) return undefined
  const [version, kind, ...fields] = text.split(' ')
  if (version !== MemoVersion || kind === undefined || !word.test(kind)) return undefined
  let source: Digest | undefined
  let converted: Digest | undefined
  const settings: Record<string, string> = {}
  for (const field of fields) {
    const eq = field.indexOf('=')
    const [k, v] = [field.slice(0, eq), field.slice(eq + 1)]
    if (eq <= 0 || !word.test(k) || !word.test(v) || Object.hasOwn(settings, k)) return undefined
    if (k === 'source' || k === 'converted') {
      if (!isDigest(v) || (k === 'source' ? source : converted) !== undefined) return undefined
      if (k === 'source') source = v
      else converted = v
    } else {
      settings[k] = v
    }
  }
  if (source === undefined || converted === undefined) return undefined
  return { source, converted, conversion: { kind, settings } }
}

/**
 * Whether a source layer's memo may be reused for converting `source` by `conversion`: the memo
 * names that source and those settings. Returns the converted digest, or why not.
 */
export function checkSourceMemo(text: string | undefined, source: Digest, conversion: Conversion): { converted: Digest } | { why: string } {
  const memo = parseMemo(text)
  if (memo === undefined) return { why: text === undefined ? 'no memo' : `not a ${MemoVersion} memo` }
  if (memo.source !== source) return { why: `the memo was made for ${memo.source}, not this layer (a label copied from another blob)` }
  if (!sameConversion(memo.conversion, conversion)) return { why: 'the memo was made with other settings' }
  return { converted: memo.converted }
}

/**
 * Whether the converted blob's own memo vouches for it: made by the same settings, and naming
 * this blob's digest (labels another tool copied from the blob it converted name that blob).
 */
export function checkConvertedMemo(text: string | undefined, converted: Digest, conversion: Conversion): { ok: true } | { why: string } {
  const memo = parseMemo(text)
  if (memo === undefined) return { why: text === undefined ? 'the converted blob has no memo' : `the converted blob's memo is not a ${MemoVersion} memo` }
  if (memo.converted !== converted) return { why: `the converted blob's memo names ${memo.converted} (labels copied from another blob)` }
  if (!sameConversion(memo.conversion, conversion)) return { why: "the converted blob's memo was made with other settings" }
  return { ok: true }
}
