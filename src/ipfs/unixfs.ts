import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import * as raw from 'multiformats/codecs/raw'
import type { CID } from 'multiformats/cid'
import { IntegrityError } from '../errors.js'
import type { GetBlock } from './block.js'
import { cidText } from './cid.js'

export interface CatOptions {
  offset?: number
  length?: number
  signal?: AbortSignal
  /** Leaf blocks fetched ahead of the reader (default 8): hides the round trip of a remote store. */
  window?: number
}

/** A part of the file in order: bytes in hand (a node's own data), or a raw leaf to fetch and slice. */
type Piece = { data: Uint8Array } | { cid: CID; from: number; to: number; size: number | undefined }

/**
 * The bytes of a UnixFS file in [offset, offset+length), from any block source. Interior nodes are
 * read as the walk reaches them; raw leaves are fetched up to `window` ahead and yielded in order.
 * Subtrees outside the range are skipped using the sizes their parents record.
 */
export async function* catUnixfs(get: GetBlock, root: CID, o: CatOptions = {}): AsyncGenerator<Uint8Array> {
  const start = o.offset ?? 0
  const end = o.length === undefined ? Infinity : start + o.length
  if (end <= start) return
  const abort = new AbortController()
  const stop = (): void => abort.abort(o.signal?.reason)
  o.signal?.addEventListener('abort', stop, { once: true })
  const signal = abort.signal
  const window = Math.max(1, o.window ?? 8)
  const walk = pieces(get, root, 0, start, end, undefined, signal)
  const queue: Array<Promise<Uint8Array>> = []
  let walked = false
  const fetchPiece = (p: Piece): Promise<Uint8Array> => {
    if ('data' in p) return Promise.resolve(p.data)
    const promise = get(p.cid, { signal }).then((bytes) => {
      if (p.size !== undefined && bytes.byteLength !== p.size) {
        throw new IntegrityError(`block ${cidText(p.cid)} holds ${bytes.byteLength} bytes where its parent records ${p.size}: not a well-formed UnixFS file`)
      }
      return bytes.subarray(p.from, Math.min(bytes.byteLength, p.to))
    })
    promise.catch(() => undefined) // awaited in order below; this only keeps an early failure from being "unhandled"
    return promise
  }
  try {
    for (;;) {
      while (!walked && queue.length < window) {
        const next = await walk.next()
        if (next.done === true) walked = true
        else queue.push(fetchPiece(next.value))
      }
      const head = queue.shift()
      if (head === undefined) return
      const bytes = await head
      if (bytes.byteLength > 0) yield bytes
    }
  } finally {
    o.signal?.removeEventListener('abort', stop)
    abort.abort()
    await walk.return(undefined)
  }
}

async function* pieces(get: GetBlock, cid: CID, base: number, start: number, end: number, size: number | undefined, signal: AbortSignal): AsyncGenerator<Piece> {
  if (cid.code === raw.code) {
    yield { cid, from: Math.max(0, start - base), to: end === Infinity ? Infinity : end - base, size }
    return
  }
  if (cid.code !== dagPb.code) throw new IntegrityError(`block ${cidText(cid)} is neither raw nor dag-pb: not a UnixFS file`)
  const node = dagPb.decode(await get(cid, { signal }))
  const fs = node.Data ? UnixFS.unmarshal(node.Data) : undefined
  if (!fs || (fs.type !== 'file' && fs.type !== 'raw')) throw new IntegrityError(`block ${cidText(cid)} is not a UnixFS file`)
  let offset = base
  if (fs.data && fs.data.byteLength > 0) {
    const from = Math.max(0, start - offset)
    const to = Math.min(fs.data.byteLength, end - offset)
    if (to > from) yield { data: fs.data.subarray(from, to) }
    offset += fs.data.byteLength
  }
  if (fs.blockSizes.length !== node.Links.length) throw new IntegrityError(`block ${cidText(cid)} lists ${node.Links.length} links but ${fs.blockSizes.length} sizes`)
  for (const [i, link] of node.Links.entries()) {
    if (offset >= end) return
    const childSize = Number(fs.blockSizes[i] ?? 0n)
    if (offset + childSize > start) yield* pieces(get, link.Hash, offset, start, end, link.Hash.code === raw.code ? childSize : undefined, signal)
    offset += childSize
  }
}
