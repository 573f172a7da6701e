import { createHash } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import type { CID } from 'multiformats/cid'
import { CHUNK_SIZE, MAX_LINKS } from './profile.js'

const RAW = 0x55
const SHA2_256 = 0x12

/**
 * Whether the DAG under `root` is the one our UnixFS profile (profile.ts) makes of `size` bytes,
 * checked on its inner nodes alone: CIDv1 with sha2-256 throughout, raw leaves of CHUNK_SIZE bytes
 * (the last one shorter), a balanced tree of at most MAX_LINKS links per node, every inner node a
 * UnixFS file whose block sizes are what its children cover, each inner block hashing to its CID.
 * Chunker, leaf kind, CID version, hash, inlining and layout each change one of these, so a DAG
 * that passes has the CID the profile gives these bytes: the leaves are not hashed a second time
 * (kubo hashed them as it made them). A one-chunk file is its own raw leaf, whose hash is the
 * bytes' sha256 (`firstChunkSha256`, which the caller computes only for such small files).
 *
 * Resolves to undefined when it matches, else to what differs, for the error message.
 */
export async function profileShapeProblem(
  root: CID, size: number, firstChunkSha256: Uint8Array | undefined, getBlock: (cid: CID) => Promise<Uint8Array>,
): Promise<string | undefined> {
  const leaves = Math.max(1, Math.ceil(size / CHUNK_SIZE))
  if (leaves === 1) {
    if (!isProfileCid(root, RAW)) return `a ${size}-byte file is one raw sha2-256 CIDv1 block in the profile, not ${describe(root)}`
    if (firstChunkSha256 === undefined || !equal(root.multihash.digest, firstChunkSha256)) return 'its one block does not hash to the bytes sent'
    return undefined
  }
  let height = 1
  while (MAX_LINKS ** height < leaves) height++
  return node(root, height, 0)

  /** The inner node `cid` at `height` above the leaves, covering leaves from `first` on. */
  async function node(cid: CID, h: number, first: number): Promise<string | undefined> {
    if (!isProfileCid(cid, dagPb.code)) return `inner node ${cid.toString()} is ${describe(cid)}, not a dag-pb sha2-256 CIDv1 block`
    const bytes = await getBlock(cid)
    if (!equal(createHash('sha256').update(bytes).digest(), cid.multihash.digest)) return `block ${cid.toString()} does not hash to its CID`
    const pb = dagPb.decode(bytes)
    let fs: UnixFS
    try {
      fs = UnixFS.unmarshal(pb.Data ?? new Uint8Array())
    } catch {
      return `inner node ${cid.toString()} holds no UnixFS data`
    }
    const span = MAX_LINKS ** (h - 1) // leaves under each child
    const last = Math.min(first + MAX_LINKS ** h, leaves)
    const children = Math.ceil((last - first) / span)
    if (fs.type !== 'file' || (fs.data?.byteLength ?? 0) > 0) return `inner node ${cid.toString()} is a UnixFS ${fs.type} with data, not a bare file node`
    if (pb.Links.length !== children || fs.blockSizes.length !== children) {
      return `inner node ${cid.toString()} has ${pb.Links.length} links where a balanced tree of ${MAX_LINKS} links and ${CHUNK_SIZE}-byte chunks has ${children}`
    }
    for (let k = 0; k < children; k++) {
      const from = first + k * span
      const covered = bytesOf(from, Math.min(from + span, last))
      if (fs.blockSizes[k] !== BigInt(covered)) return `inner node ${cid.toString()} gives child ${k} ${fs.blockSizes[k]} bytes where ${CHUNK_SIZE}-byte chunks give ${covered}`
      const child = (pb.Links[k] as dagPb.PBLink).Hash
      if (h === 1) {
        if (!isProfileCid(child, RAW)) return `leaf ${child.toString()} is ${describe(child)}, not a raw sha2-256 CIDv1 block`
        continue
      }
      const problem = await node(child, h - 1, from)
      if (problem !== undefined) return problem
    }
    return undefined
  }

  /** The bytes in leaves [from, to). */
  function bytesOf(from: number, to: number): number {
    return Math.min(size, to * CHUNK_SIZE) - from * CHUNK_SIZE
  }
}

function isProfileCid(cid: CID, codec: number): boolean {
  return cid.version === 1 && cid.code === codec && cid.multihash.code === SHA2_256 && cid.multihash.digest.byteLength === 32
}

function describe(cid: CID): string {
  return `CIDv${cid.version} codec 0x${cid.code.toString(16)} hash 0x${cid.multihash.code.toString(16)}`
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0
}
