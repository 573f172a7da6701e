/**
 * validateLayout(): every broken invariant of an OCI image layout, as readable sentences.
 * It checks the `oci-layout` marker, that every blob's name is the hash of its bytes, and, walking
 * from index.json through indexes and manifests to configs and layers, that each descriptor is
 * well formed and names a blob that exists with the stated size and digest, that JSON blobs
 * parse and agree with their descriptor's media type, and that rootfs.diff_ids match the layers.
 * An empty list means the layout is sound.
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createGunzip } from 'node:zlib'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import { MT } from './constants.js'

export interface ValidateOptions {
  /** Decompress gzip layers to check rootfs.diff_ids (default true; costs a pass over each layer). */
  checkDiffIds?: boolean
}

const HASHES: Record<string, number> = { sha256: 64, sha512: 128 }
const INDEX_TYPES = new Set<string>([MT.ociIndex, MT.dockerManifestList])
const MANIFEST_TYPES = new Set<string>([MT.ociManifest, MT.dockerManifest])
const GZIP_LAYERS = new Set<string>([MT.ociLayerGzip, MT.dockerLayerGzip, 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip'])
const TAR_LAYERS = new Set<string>([MT.ociLayer, MT.dockerLayer, 'application/vnd.oci.image.layer.nondistributable.v1.tar'])

type Json = Record<string, unknown>

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

async function hashFile(path: string, algorithm: string, gunzip = false): Promise<string> {
  const hash = createHash(algorithm)
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk)
      cb()
    },
  })
  if (gunzip) await pipeline(createReadStream(path), createGunzip(), sink)
  else await pipeline(createReadStream(path), sink)
  return `${algorithm}:${hash.digest('hex')}`
}

class Validator {
  readonly problems: string[] = []
  private readonly blobHashes = new Map<string, Promise<string>>()
  private readonly walked = new Set<string>()

  constructor(
    readonly dir: string,
    readonly opts: Required<ValidateOptions>,
  ) {}

  problem(where: string, what: string): void {
    this.problems.push(`${where}: ${what}`)
  }

  blobPath(digest: string): string {
    const [alg, hex] = digest.split(':') as [string, string]
    return join(this.dir, 'blobs', alg, hex)
  }

  /** Content hash of a blob file, computed once however often it is referenced. */
  contentDigest(digest: string): Promise<string> {
    let p = this.blobHashes.get(digest)
    if (!p) {
      p = hashFile(this.blobPath(digest), digest.split(':')[0] as string)
      this.blobHashes.set(digest, p)
    }
    return p
  }

  async checkMarker(): Promise<void> {
    let text: string
    try {
      text = await readFile(join(this.dir, 'oci-layout'), 'utf8')
    } catch {
      this.problem('oci-layout', 'missing')
      return
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      this.problem('oci-layout', 'not JSON')
      return
    }
    if (!isObject(parsed) || parsed.imageLayoutVersion !== '1.0.0') {
      this.problem('oci-layout', `imageLayoutVersion must be "1.0.0", got ${JSON.stringify(isObject(parsed) ? parsed.imageLayoutVersion : parsed)}`)
    }
  }

  /** Every file under blobs/ must be named by the hash of its bytes (referenced or not). */
  async checkBlobStore(): Promise<void> {
    let algs: string[]
    try {
      algs = await readdir(join(this.dir, 'blobs'))
    } catch {
      this.problem('blobs', 'missing directory')
      return
    }
    for (const alg of algs.sort()) {
      const len = HASHES[alg]
      if (len === undefined) {
        this.problem(`blobs/${alg}`, 'unknown digest algorithm')
        continue
      }
      for (const name of (await readdir(join(this.dir, 'blobs', alg))).sort()) {
        const where = `blobs/${alg}/${name}`
        if (name.length !== len || !/^[a-f0-9]+$/.test(name)) {
          this.problem(where, 'stray file: not named by a digest')
          continue
        }
        const actual = await this.contentDigest(`${alg}:${name}`).catch((e: Error) => `unreadable (${e.message})`)
        if (actual !== `${alg}:${name}`) this.problem(where, `content hashes to ${actual}`)
      }
    }
  }

  async checkIndexJson(): Promise<void> {
    const index = await this.readJson(join(this.dir, 'index.json'), 'index.json')
    if (!index) return
    this.checkIndexBody(index, 'index.json')
    if (index.mediaType !== undefined && index.mediaType !== MT.ociIndex) {
      this.problem('index.json', `mediaType ${String(index.mediaType)} is not ${MT.ociIndex}`)
    }
    await this.walkManifests(index, 'index.json')
  }

  async readJson(path: string, where: string): Promise<Json | undefined> {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch {
      this.problem(where, 'missing')
      return undefined
    }
    try {
      const v: unknown = JSON.parse(text)
      if (isObject(v)) return v
      this.problem(where, 'JSON is not an object')
    } catch {
      this.problem(where, 'not valid JSON')
    }
    return undefined
  }

  checkIndexBody(index: Json, where: string): void {
    if (index.schemaVersion !== 2) this.problem(where, `schemaVersion must be 2, got ${JSON.stringify(index.schemaVersion)}`)
    if (!Array.isArray(index.manifests)) this.problem(where, 'manifests must be an array')
  }

  async walkManifests(index: Json, where: string): Promise<void> {
    if (!Array.isArray(index.manifests)) return
    for (const [i, d] of (index.manifests as unknown[]).entries()) {
      await this.walkDescriptor(d, `${where} manifests[${i}]`)
    }
  }

  /** Check one descriptor and its blob; return the descriptor if both are sound. */
  async checkDescriptor(d: unknown, where: string): Promise<Json | undefined> {
    if (!isObject(d)) {
      this.problem(where, 'descriptor is not an object')
      return undefined
    }
    let ok = true
    if (typeof d.mediaType !== 'string' || d.mediaType === '') {
      this.problem(where, 'descriptor has no mediaType')
      ok = false
    }
    const digest = d.digest
    const m = typeof digest === 'string' ? /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest) : null
    if (!m || HASHES[m[1] as string] !== (m[2] as string).length) {
      this.problem(where, `malformed digest ${JSON.stringify(digest)}`)
      return undefined
    }
    if (!Number.isSafeInteger(d.size) || (d.size as number) < 0) {
      this.problem(where, `malformed size ${JSON.stringify(d.size)}`)
      ok = false
    }
    if (d.annotations !== undefined && (!isObject(d.annotations) || Object.values(d.annotations).some((v) => typeof v !== 'string'))) {
      this.problem(where, 'annotations must map strings to strings')
    }
    if (d.platform !== undefined) {
      const p = d.platform
      if (!isObject(p) || typeof p.architecture !== 'string' || typeof p.os !== 'string') {
        this.problem(where, 'platform needs string architecture and os')
      }
    }
    const path = this.blobPath(digest as string)
    let size: number
    try {
      size = (await stat(path)).size
    } catch {
      this.problem(where, `missing blob ${digest as string}`)
      return undefined
    }
    if (Number.isSafeInteger(d.size) && size !== d.size) {
      this.problem(where, `size ${String(d.size)} but blob ${digest as string} has ${size} bytes`)
      ok = false
    }
    const actual = await this.contentDigest(digest as string)
    if (actual !== digest) {
      this.problem(where, `blob ${digest as string} hashes to ${actual}`)
      ok = false
    }
    return ok ? d : undefined
  }

  async walkDescriptor(d: unknown, where: string): Promise<void> {
    const desc = await this.checkDescriptor(d, where)
    if (!desc) return
    const mediaType = desc.mediaType as string
    const digest = desc.digest as string
    const isIndex = INDEX_TYPES.has(mediaType)
    if (!isIndex && !MANIFEST_TYPES.has(mediaType)) return // not something to descend into
    // Each JSON blob's children are checked once, however many descriptors share it.
    if (this.walked.has(digest)) return
    this.walked.add(digest)
    const here = `${where} (${digest.slice(0, 19)})`
    const body = await this.readJson(this.blobPath(digest), here)
    if (!body) return
    if (body.mediaType !== undefined && body.mediaType !== mediaType) {
      this.problem(here, `blob says mediaType ${String(body.mediaType)} but descriptor says ${mediaType}`)
    }
    if (isIndex) {
      this.checkIndexBody(body, here)
      await this.walkManifests(body, here)
    } else {
      await this.walkManifest(body, here)
    }
  }

  async walkManifest(manifest: Json, where: string): Promise<void> {
    if (manifest.schemaVersion !== 2) this.problem(where, `schemaVersion must be 2, got ${JSON.stringify(manifest.schemaVersion)}`)
    const config = await this.checkDescriptor(manifest.config, `${where} config`)
    if (!Array.isArray(manifest.layers)) {
      this.problem(where, 'layers must be an array')
      return
    }
    const layers = manifest.layers as unknown[]
    const sound: (Json | undefined)[] = []
    for (const [i, l] of layers.entries()) sound.push(await this.checkDescriptor(l, `${where} layers[${i}]`))
    if (!config) return
    const body = await this.readJson(this.blobPath(config.digest as string), `${where} config`)
    if (!body) return
    const rootfs = body.rootfs
    const diffIds = isObject(rootfs) && Array.isArray(rootfs.diff_ids) ? (rootfs.diff_ids as unknown[]) : undefined
    if (!diffIds) {
      // Only image configs have a rootfs; an artifact's config may be anything.
      if (config.mediaType === MT.ociConfig || config.mediaType === MT.dockerConfig) {
        this.problem(`${where} config`, 'no rootfs.diff_ids')
      }
      return
    }
    if (diffIds.length !== layers.length) {
      this.problem(`${where} config`, `${diffIds.length} diff_ids for ${layers.length} layers`)
      return
    }
    if (!this.opts.checkDiffIds) return
    for (const [i, layer] of sound.entries()) {
      if (!layer) continue
      const mt = layer.mediaType as string
      let uncompressed: string | undefined
      if (TAR_LAYERS.has(mt)) uncompressed = layer.digest as string
      else if (GZIP_LAYERS.has(mt)) {
        uncompressed = await hashFile(this.blobPath(layer.digest as string), 'sha256', true).catch(
          (e: Error) => `undecompressable (${e.message})`,
        )
      }
      if (uncompressed !== undefined && uncompressed !== diffIds[i]) {
        this.problem(`${where} layers[${i}]`, `uncompressed digest ${uncompressed} but diff_ids[${i}] is ${String(diffIds[i])}`)
      }
    }
  }
}

export async function validateLayout(dir: string, opts: ValidateOptions = {}): Promise<string[]> {
  const v = new Validator(dir, { checkDiffIds: opts.checkDiffIds ?? true })
  await v.checkMarker()
  await v.checkBlobStore()
  await v.checkIndexJson()
  return v.problems
}
