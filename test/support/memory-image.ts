import type { Descriptor } from '../../src/oci/descriptor.js'
import { sha256Digest } from '../../src/oci/digest.js'
import type { ImageSource } from '../../src/oci/store.js'

/** An ImageSource over blobs held in memory, for hermetic tests of what sits above the stores. */
export class MemoryImage implements ImageSource {
  readonly location = 'memory'
  readonly blobs = new Map<string, Buffer>()
  rootDesc?: Descriptor

  put(mediaType: string, bytes: Buffer | string, extra: Partial<Descriptor> = {}): Descriptor {
    const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes)
    const desc: Descriptor = { mediaType, digest: sha256Digest(b), size: b.length, ...extra }
    this.blobs.set(desc.digest, b)
    return desc
  }

  putJson(mediaType: string, value: unknown, extra: Partial<Descriptor> = {}): Descriptor {
    return this.put(mediaType, JSON.stringify(value), extra)
  }

  async root(): Promise<Descriptor> {
    if (!this.rootDesc) throw new Error('no root set')
    return this.rootDesc
  }

  async *blob(desc: Descriptor): AsyncGenerator<Uint8Array> {
    const b = this.blobs.get(desc.digest)
    if (!b) throw new Error(`no blob ${desc.digest}`)
    yield b
  }

  async close(): Promise<void> {}
}
