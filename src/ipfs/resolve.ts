import { UsageError } from '../errors.js'
import type { IpfsBackend } from './backend.js'
import { cidText, type CID } from './cid.js'
import type { PullRef } from './ref.js'

export interface ResolvedRef {
  cid: CID
  /** Name for containerd's image record. */
  name: string
  /** What the stargz snapshotter resolves remote layers through. */
  remoteRef: string
}

/** Turn what the user typed into a root CID. IPNS names and image references resolve through IPNS. */
export async function resolvePullRef(ref: PullRef, _ipfs: IpfsBackend, _o: { timeoutMs: number }): Promise<ResolvedRef> {
  switch (ref.kind) {
    case 'cid': {
      const text = cidText(ref.cid)
      return { cid: ref.cid, name: text, remoteRef: text }
    }
    case 'ipns':
      throw new UsageError(`/ipns/${ref.name}: pulling through IPNS is not supported yet; pass the root CID`)
    case 'ref':
      throw new UsageError(`"${ref.ref}" is not a CID, and pulling image references through IPNS is not supported yet; pass the root CID`)
  }
}
