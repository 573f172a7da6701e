import { varint } from 'multiformats'
import type { CID } from 'multiformats/cid'
import { carHeader } from './car-writer.js'

/**
 * A CARv1 (header naming `roots`, then each block as varint length, CID, bytes) as a stream the consumer
 * pulls: a block is read from `blocks` only when the bytes before it have been taken. Unlike
 * @ipld/car's CarWriter, whose put() waits on a reader with no way to be told the reader has gone,
 * stopping this stream (return()) also stops `blocks`, so a consumer that leaves leaves nothing pending.
 */
export async function* carStream(roots: CID[], blocks: AsyncIterable<{ cid: CID; bytes: Uint8Array }>): AsyncGenerator<Uint8Array> {
  yield await carHeader(roots)
  for await (const { cid, bytes } of blocks) {
    const length = cid.bytes.byteLength + bytes.byteLength
    const prefix = new Uint8Array(varint.encodingLength(length) + cid.bytes.byteLength)
    varint.encodeTo(length, prefix)
    prefix.set(cid.bytes, prefix.byteLength - cid.bytes.byteLength)
    yield prefix
    if (bytes.byteLength > 0) yield bytes
  }
}
