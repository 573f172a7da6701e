import { UnavailableError } from '../errors.js'
import { ipnsNameForRef } from './ipns-key.js'
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

/**
 * Turn what the user typed into a root CID. A reference resolves through the IPNS name derived
 * from it (computed here: no private key is needed to pull); /ipns/NAME resolves as given.
 * Only the root goes through IPNS; every child is fetched by /ipfs/<cid>.
 */
export async function resolvePullRef(ref: PullRef, ipfs: IpfsBackend, o: { timeoutMs: number }): Promise<ResolvedRef> {
  if (ref.kind === 'cid') {
    const text = cidText(ref.cid)
    return { cid: ref.cid, name: text, remoteRef: text }
  }
  const name = ref.kind === 'ref' ? ipnsNameForRef(ref.ref) : ref.name
  const ipns = await ipfs.ipns()
  const signal = AbortSignal.timeout(o.timeoutMs)
  const cid = await ipns.resolve(name, { signal }).catch((err: unknown) => {
    if (signal.aborted) throw new UnavailableError(`could not resolve /ipns/${name} within ${o.timeoutMs / 1000} s (raise --timeout)`)
    throw err
  })
  // A reference names the image in containerd as typed; a bare IPNS name names it by its root.
  return ref.kind === 'ref' ? { cid, name: ref.ref, remoteRef: ref.ref } : { cid, name: cidText(cid), remoteRef: cidText(cid) }
}
