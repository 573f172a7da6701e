import { readFile } from 'node:fs/promises'
import { join } from 'node:path'

/** Small helpers for tests that look inside an OCI layout. */
export interface LayoutManifest {
  config: { digest: string }
  layers: Array<{ digest: string; mediaType: string; annotations?: Record<string, string> }>
}

export const blobPath = (dir: string, digest: string): string => join(dir, 'blobs', 'sha256', digest.slice(7))

export async function readJsonBlob<T>(dir: string, digest: string): Promise<T> {
  return JSON.parse(await readFile(blobPath(dir, digest), 'utf8')) as T
}

/** Every image manifest reachable from index.json (through nested indexes). */
export async function manifestsOf(dir: string): Promise<LayoutManifest[]> {
  const out: LayoutManifest[] = []
  const visit = async (d: { digest: string; mediaType: string }): Promise<void> => {
    if (d.mediaType.includes('index') || d.mediaType.includes('manifest.list')) {
      for (const m of (await readJsonBlob<{ manifests: Array<{ digest: string; mediaType: string }> }>(dir, d.digest)).manifests) await visit(m)
    } else {
      out.push(await readJsonBlob<LayoutManifest>(dir, d.digest))
    }
  }
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; mediaType: string }> }
  for (const m of index.manifests) await visit(m)
  return out
}
