/**
 * Where the registry keeps what is not in IPFS: which blobs a repository holds, its manifests'
 * bytes, its tags. A handful of path verbs, as CNCF distribution's StorageDriver, so the layout
 * above it (metadata.ts) is one piece and a test can hand it memory instead of a disk.
 * Paths are relative, '/'-separated, and already checked by the layout (no '..', no empty parts).
 */
export interface StorageDriver {
  /** The bytes at `path`, or undefined when nothing is there. */
  get(path: string): Promise<Buffer | undefined>
  /** Replace `path` as one step: a reader sees the old bytes or the new ones, never a part. */
  put(path: string, bytes: Uint8Array): Promise<void>
  /** Remove a file or a whole directory; removing what is not there is no error. */
  delete(path: string): Promise<void>
  /** The names directly under `dir` (files and directories), [] when it does not exist. */
  list(dir: string): Promise<string[]>
}
