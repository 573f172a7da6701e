import type { Digest } from '../oci/digest.js'
import type { ByteParts } from './protobuf.js'
import { rpc } from './protos.js'
import { toDate, toNumber, type Empty, type Int64, type WireTimestamp } from './wire.js'

/** What containerd knows about a committed blob. */
export interface ContentInfo {
  digest: Digest
  size: number
  labels: Record<string, string>
  createdAt?: Date | undefined
  updatedAt?: Date | undefined
}

/** An unfinished write (ingest), by ref. */
export interface IngestStatus {
  ref: string
  /** Bytes written so far: where a resumed write continues. */
  offset: number
  total: number
  expected: string
  startedAt?: Date | undefined
  updatedAt?: Date | undefined
}

export interface WireInfo {
  digest: string
  size: Int64
  created_at?: WireTimestamp | null
  updated_at?: WireTimestamp | null
  labels: Record<string, string>
}

interface WireStatus {
  started_at: WireTimestamp | null
  updated_at: WireTimestamp | null
  ref: string
  offset: Int64
  total: Int64
  expected: string
}

export type WriteAction = 'STAT' | 'WRITE' | 'COMMIT'

export interface WriteRequest {
  action: WriteAction
  ref?: string
  total?: Int64
  expected?: string
  offset?: Int64
  /** Whole, or in pieces that are sent without being joined. */
  data?: Uint8Array | ByteParts
  labels?: Record<string, string>
}

export interface WriteResponse {
  action: WriteAction
  offset: Int64
  total: Int64
  digest: string
}

const svc = 'containerd.services.content.v1.Content'
export const Info = () => rpc<{ digest: string }, { info: WireInfo | null }>(svc, 'Info')
export const Update = () => rpc<{ info: WireInfo; update_mask: { paths: string[] } }, { info: WireInfo | null }>(svc, 'Update')
export const List = () => rpc<{ filters: string[] }, { info: WireInfo[] }>(svc, 'List')
export const Delete = () => rpc<{ digest: string }, Empty>(svc, 'Delete')
export const Read = () => rpc<{ digest: string; offset: Int64; size: Int64 }, { offset: Int64; data: Uint8Array }>(svc, 'Read')
export const Status = () => rpc<{ ref: string }, { status: WireStatus | null }>(svc, 'Status')
export const Write = () => rpc<WriteRequest, WriteResponse>(svc, 'Write')
export const Abort = () => rpc<{ ref: string }, Empty>(svc, 'Abort')

export function toContentInfo(info: WireInfo): ContentInfo {
  return {
    digest: info.digest as Digest, size: toNumber(info.size), labels: { ...info.labels },
    createdAt: toDate(info.created_at), updatedAt: toDate(info.updated_at),
  }
}

export function toIngestStatus(s: WireStatus): IngestStatus {
  return {
    ref: s.ref, offset: toNumber(s.offset), total: toNumber(s.total), expected: s.expected,
    startedAt: toDate(s.started_at), updatedAt: toDate(s.updated_at),
  }
}

/**
 * The Update request that sets (string) or removes (undefined) just the named labels,
 * leaving the others alone: containerd's mask `labels.KEY` per key.
 */
export function labelUpdate(digest: Digest, labels: Record<string, string | undefined>): { info: WireInfo; update_mask: { paths: string[] } } {
  const set: Record<string, string> = {}
  for (const [k, v] of Object.entries(labels)) if (v !== undefined) set[k] = v
  return {
    info: { digest, size: '0', labels: set },
    update_mask: { paths: Object.keys(labels).map((k) => `labels.${k}`) },
  }
}
