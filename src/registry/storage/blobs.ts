import type { CID } from 'multiformats/cid'
import type { IpfsBackend } from '../../ipfs/backend.js'
import { cidText } from '../../ipfs/cid.js'
import type { Digest } from '../../oci/digest.js'
import type { RegistryMetadata, StoredBlob } from './metadata.js'

/**
 * Blobs pushed through the API: bytes in IPFS (added with the kubo-identical profile, so a blob
 * has the CID ipfs-push would give it), and a link per repository that holds one. A blob becomes
 * visible only here, after its digest was checked: the index entry is written after the add, then
 * the link, so a crash in between leaves at most an unlinked entry that the next commit reuses.
 */
export class PushedBlobs {
  constructor(private readonly meta: RegistryMetadata, private readonly ipfs: IpfsBackend) {}

  /** The blob `digest` as `repo` holds it, or undefined. */
  async stat(repo: string, digest: Digest): Promise<StoredBlob | undefined> {
    if (!(await this.meta.linked(repo, digest))) return undefined
    return this.meta.blob(digest)
  }

  /**
   * Keep verified bytes as `digest` in `repo`. Bytes IPFS already holds under this digest (pushed
   * to any repository) are not added again. `added`: the bytes went to IPFS unpinned as they
   * arrived (live-add.ts), so only their pin is left; if that add failed, `bytes()` is added now.
   */
  async commit(repo: string, digest: Digest, size: number, bytes: () => AsyncIterable<Uint8Array>, added?: Promise<CID>, signal?: AbortSignal): Promise<StoredBlob> {
    let blob = await this.meta.blob(digest)
    if (blob?.size !== size) {
      blob = { cid: cidText(await this.keep(bytes, added, signal)), size }
      await this.meta.putBlob(digest, blob)
    }
    await this.meta.link(repo, digest)
    return blob
  }

  private async keep(bytes: () => AsyncIterable<Uint8Array>, added: Promise<CID> | undefined, signal: AbortSignal | undefined): Promise<CID> {
    const pinning = this.ipfs.pinning
    const cid = pinning && added ? await added.catch(() => undefined) : undefined
    if (pinning && cid) {
      await pinning.pin([cidText(cid)])
      return cid
    }
    return this.ipfs.add(bytes(), signal ? { signal } : {})
  }

  /** Link a blob `from` holds (without `from`: any blob kept) into `repo`, a cross-repository mount; undefined when there is none. */
  async mount(repo: string, from: string | undefined, digest: Digest): Promise<StoredBlob | undefined> {
    const blob = from === undefined ? await this.meta.blob(digest) : await this.stat(from, digest)
    if (blob) await this.meta.link(repo, digest)
    return blob
  }

  /** Forget the blob in `repo`; false when it held none. Its bytes stay in IPFS for other repositories and images. */
  async delete(repo: string, digest: Digest): Promise<boolean> {
    if (!(await this.meta.linked(repo, digest))) return false
    await this.meta.unlink(repo, digest)
    return true
  }
}
