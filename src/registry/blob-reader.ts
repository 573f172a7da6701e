import type { IpfsBackend } from '../ipfs/backend.js'
import type { BlobReader } from './roles.js'

/** Blobs straight from IPFS by the CID of their descriptor's ipfs:// URL; the backend checks every block against its CID. */
export function ipfsBlobReader(ipfs: IpfsBackend): BlobReader {
  return {
    read: (entry, span, signal) => ipfs.cat(entry.cid, {
      ...(span ? { offset: span.start, length: span.end - span.start } : {}),
      ...(signal ? { signal } : {}),
    }),
  }
}
