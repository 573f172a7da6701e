import type { Descriptor } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'
import type { CallOptions, Connection } from './connection.js'
import { ContainerdError } from './errors.js'
import type { CallScope } from './metadata.js'
import {
  Abort, Delete, Info, labelUpdate, List, Read, Status, toContentInfo, toIngestStatus, Update,
  type ContentInfo, type IngestStatus, type WireInfo,
} from './content-rpc.js'
import { writeContent, type BlobBytes, type WriteOptions, type WriteResult } from './content-write.js'

export interface ReadOptions extends CallOptions {
  /** Start this many bytes in. */
  offset?: number
  /** Read at most this many bytes; to the end by default. */
  size?: number
}

/** containerd's content store in one namespace; writes land in the scope's lease. */
export class ContentService {
  constructor(private readonly conn: Connection, private readonly scope: CallScope) {}

  /** NotFoundError when the blob is not there. */
  async info(digest: Digest, opts?: CallOptions): Promise<ContentInfo> {
    return infoOf((await this.conn.unary(Info(), { digest }, this.scope, opts)).info)
  }

  /** Set (string) or remove (undefined) the named labels; other labels stay. */
  async updateLabels(digest: Digest, labels: Record<string, string | undefined>, opts?: CallOptions): Promise<ContentInfo> {
    return infoOf((await this.conn.unary(Update(), labelUpdate(digest, labels), this.scope, opts)).info)
  }

  /** Filters in containerd's syntax, e.g. `labels."containerd.io/uncompressed"`. */
  async list(filters: string[] = [], opts?: CallOptions): Promise<ContentInfo[]> {
    const out: ContentInfo[] = []
    for await (const batch of this.conn.serverStream(List(), { filters }, this.scope, opts)) out.push(...batch.info.map(toContentInfo))
    return out
  }

  async delete(digest: Digest, opts?: CallOptions): Promise<void> {
    await this.conn.unary(Delete(), { digest }, this.scope, opts)
  }

  /** A blob's bytes in containerd's chunks (32 KiB). Not verified here: wrap in verifyStream. */
  async *read(blob: Digest | Pick<Descriptor, 'digest'>, opts: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    const digest = typeof blob === 'string' ? blob : blob.digest
    const req = { digest, offset: String(opts.offset ?? 0), size: String(opts.size ?? 0) }
    if (opts.size === 0) return
    for await (const res of this.conn.serverStream(Read(), req, this.scope, opts)) {
      if (res.data.byteLength > 0) yield res.data
    }
  }

  /** Stream a blob in; see writeContent. Already there counts as success (`written: false`). */
  write(desc: Pick<Descriptor, 'digest' | 'size'>, bytes: BlobBytes, opts?: WriteOptions): Promise<WriteResult> {
    return writeContent(this.conn, this.scope, desc, bytes, opts)
  }

  /** An unfinished write; NotFoundError when there is none under that ref. */
  async status(ref: string, opts?: CallOptions): Promise<IngestStatus> {
    const res = await this.conn.unary(Status(), { ref }, this.scope, opts)
    if (res.status === null) throw new ContainerdError(`containerd answered without a status for ${ref}`, 'INTERNAL')
    return toIngestStatus(res.status)
  }

  /** Drop an unfinished write and its bytes. */
  async abort(ref: string, opts?: CallOptions): Promise<void> {
    await this.conn.unary(Abort(), { ref }, this.scope, opts)
  }
}

function infoOf(info: WireInfo | null): ContentInfo {
  if (info === null) throw new ContainerdError('containerd answered without content info', 'INTERNAL')
  return toContentInfo(info)
}
