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
   * to any repository) are not added again.
   */
  async commit(repo: string, digest: Digest, size: number, bytes: () => AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<StoredBlob> {
    let blob = await this.meta.blob(digest)
    if (blob?.size !== size) {
      blob = { cid: cidText(await this.ipfs.add(bytes(), signal ? { signal } : {})), size }
      await this.meta.putBlob(digest, blob)
    }
    await this.meta.link(repo, digest)
    return blob
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
