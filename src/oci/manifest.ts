import { IntegrityError } from '../errors.js'
import type { Descriptor } from './descriptor.js'
import { isDigest } from './digest.js'
import { goMarshal, nonEmpty, sortedMap, type GoJsonValue } from './go-json.js'
import type { Platform } from './platform.js'

/** An image manifest, with only the fields the OCI Go structs keep (unknown ones are dropped, as Go does). */
export interface Manifest {
  schemaVersion: number
  mediaType?: string
  artifactType?: string
  config: Descriptor
  /** null when the source had no `layers` key: Go marshals a nil slice as null. */
  layers: Descriptor[] | null
  subject?: Descriptor
  annotations?: Record<string, string>
}

export interface Index {
  schemaVersion: number
  mediaType?: string
  artifactType?: string
  manifests: Descriptor[] | null
  subject?: Descriptor
  annotations?: Record<string, string>
}

type Json = Record<string, unknown>

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined
}

function stringMap(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined
  if (!isObject(v) || Object.values(v).some((x) => typeof x !== 'string')) throw new IntegrityError(`${what}: annotations must be a map of strings`)
  return v as Record<string, string>
}

export function parsePlatformJson(v: unknown): Platform | undefined {
  if (!isObject(v)) return undefined
  const p: Platform = { architecture: typeof v.architecture === 'string' ? v.architecture : '', os: typeof v.os === 'string' ? v.os : '' }
  if (str(v['os.version'])) p['os.version'] = v['os.version'] as string
  if (Array.isArray(v['os.features']) && v['os.features'].length > 0) p['os.features'] = v['os.features'].map(String)
  if (str(v.variant)) p.variant = v.variant as string
  return p
}

/** Validate and normalise one descriptor from parsed JSON. */
export function parseDescriptorJson(v: unknown, what: string): Descriptor {
  if (!isObject(v)) throw new IntegrityError(`${what}: not a descriptor object`)
  if (!isDigest(v.digest)) throw new IntegrityError(`${what}: missing or unsupported digest ${JSON.stringify(v.digest)} (only sha256 is supported)`)
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) throw new IntegrityError(`${what}: invalid size ${JSON.stringify(v.size)}`)
  const d: Descriptor = { mediaType: typeof v.mediaType === 'string' ? v.mediaType : '', digest: v.digest, size: v.size }
  if (Array.isArray(v.urls) && v.urls.length > 0) d.urls = v.urls.map(String)
  const annotations = stringMap(v.annotations, what)
  if (annotations && Object.keys(annotations).length > 0) d.annotations = annotations
  if (str(v.data)) d.data = v.data as string
  const platform = parsePlatformJson(v.platform)
  if (platform) d.platform = platform
  if (str(v.artifactType)) d.artifactType = v.artifactType as string
  return d
}

function parseJsonObject(bytes: Uint8Array, what: string): Json {
  let v: unknown
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch (err) {
    throw new IntegrityError(`${what}: not valid JSON (${(err as Error).message})`)
  }
  if (!isObject(v)) throw new IntegrityError(`${what}: expected a JSON object`)
  return v
}

/** The fields manifests and indexes share, present only when set (Go's omitempty). */
function sharedFields(v: Json, what: string): Pick<Manifest, 'mediaType' | 'artifactType' | 'subject' | 'annotations'> {
  const out: Pick<Manifest, 'mediaType' | 'artifactType' | 'subject' | 'annotations'> = {}
  if (str(v.mediaType)) out.mediaType = v.mediaType as string
  if (str(v.artifactType)) out.artifactType = v.artifactType as string
  if (isObject(v.subject)) out.subject = parseDescriptorJson(v.subject, `${what}: subject`)
  const annotations = stringMap(v.annotations, what)
  if (annotations && Object.keys(annotations).length > 0) out.annotations = annotations
  return out
}

export function parseManifest(bytes: Uint8Array, what = 'manifest'): Manifest {
  const v = parseJsonObject(bytes, what)
  if (v.config === undefined) throw new IntegrityError(`${what}: no config descriptor (is it a manifest?)`)
  if (v.layers !== undefined && v.layers !== null && !Array.isArray(v.layers)) throw new IntegrityError(`${what}: layers is not a list`)
  const m: Manifest = {
    schemaVersion: typeof v.schemaVersion === 'number' ? v.schemaVersion : 0,
    config: parseDescriptorJson(v.config, `${what}: config`),
    layers: Array.isArray(v.layers) ? v.layers.map((l, i) => parseDescriptorJson(l, `${what}: layer ${i}`)) : null,
  }
  return Object.assign(m, sharedFields(v, what))
}

export function parseIndex(bytes: Uint8Array, what = 'index'): Index {
  const v = parseJsonObject(bytes, what)
  if (v.manifests !== undefined && v.manifests !== null && !Array.isArray(v.manifests)) throw new IntegrityError(`${what}: manifests is not a list`)
  const x: Index = {
    schemaVersion: typeof v.schemaVersion === 'number' ? v.schemaVersion : 0,
    manifests: Array.isArray(v.manifests) ? v.manifests.map((m, i) => parseDescriptorJson(m, `${what}: manifest ${i}`)) : null,
  }
  return Object.assign(x, sharedFields(v, what))
}

// Field order below is the order of the Go structs in image-spec's specs-go/v1.

function platformValue(p: Platform): GoJsonValue {
  return { architecture: p.architecture, os: p.os, 'os.version': p['os.version'], 'os.features': nonEmpty(p['os.features']), variant: p.variant }
}

export function descriptorValue(d: Descriptor): GoJsonValue {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    urls: nonEmpty(d.urls),
    annotations: d.annotations && nonEmpty(sortedMap(d.annotations)),
    data: d.data,
    platform: d.platform && platformValue(d.platform),
    artifactType: d.artifactType,
  }
}

export function marshalDescriptor(d: Descriptor): string {
  return goMarshal(descriptorValue(d))
}

export function marshalManifest(m: Manifest): string {
  return goMarshal({
    schemaVersion: m.schemaVersion,
    mediaType: m.mediaType,
    artifactType: m.artifactType,
    config: descriptorValue(m.config),
    layers: m.layers === null ? null : m.layers.map(descriptorValue),
    subject: m.subject && descriptorValue(m.subject),
    annotations: m.annotations && nonEmpty(sortedMap(m.annotations)),
  })
}

export function marshalIndex(x: Index): string {
  return goMarshal({
    schemaVersion: x.schemaVersion,
    mediaType: x.mediaType,
    artifactType: x.artifactType,
    manifests: x.manifests === null ? null : x.manifests.map(descriptorValue),
    subject: x.subject && descriptorValue(x.subject),
    annotations: x.annotations && nonEmpty(sortedMap(x.annotations)),
  })
}
