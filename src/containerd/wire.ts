import type { Descriptor } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'

/**
 * Shapes of the messages as proto-loader hands them over (keepCase, longs as strings, defaults on):
 * scalars, maps and lists always present, message fields null when unset, int64 as decimal strings.
 * Requests may leave fields out; protobuf encodes them as defaults.
 */
export type Int64 = string

export interface WireTimestamp { seconds: Int64; nanos: number }

export interface WireDescriptor {
  media_type: string
  digest: string
  size: Int64
  annotations: Record<string, string>
}

export interface WireMount { type: string; source: string; target: string; options: string[] }

export interface Empty {}

/** A filesystem mount a snapshotter returns (or a diff applier takes). */
export interface Mount { type: string; source: string; target?: string; options: string[] }

export function toDate(ts: WireTimestamp | null | undefined): Date | undefined {
  if (ts === null || ts === undefined) return undefined
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1e6))
}

/** An int64 from the wire as a number; sizes and offsets stay well below 2^53. */
export function toNumber(value: Int64 | number): number {
  return typeof value === 'number' ? value : Number(value)
}

export function toDescriptor(d: WireDescriptor): Descriptor {
  const out: Descriptor = { mediaType: d.media_type, digest: d.digest as Digest, size: toNumber(d.size) }
  if (Object.keys(d.annotations).length > 0) out.annotations = { ...d.annotations }
  return out
}

/** containerd 1.6 carries media type, digest, size and annotations; urls and platform do not cross. */
export function fromDescriptor(d: Descriptor): WireDescriptor {
  return { media_type: d.mediaType, digest: d.digest, size: String(d.size), annotations: d.annotations ?? {} }
}

export function toMount(m: WireMount): Mount {
  const out: Mount = { type: m.type, source: m.source, options: [...m.options] }
  if (m.target !== '') out.target = m.target
  return out
}

export function fromMount(m: Mount): WireMount {
  return { type: m.type, source: m.source, target: m.target ?? '', options: m.options }
}
