import type { ImporterOptions } from 'ipfs-unixfs-importer'

/**
 * The one UnixFS profile ipcr uses: what `ipfs add --cid-version=1` does on a kubo repo with default
 * Import settings, and so what ctr-remote's pushes get (wire-format.md §2). Both the local importer
 * and every request to kubo take their parameters from here, so they cannot drift apart.
 */
export const CHUNK_SIZE = 262_144
export const MAX_LINKS = 174

export const kuboAddParams: Readonly<Record<string, string>> = {
  'cid-version': '1',
  'raw-leaves': 'true',
  chunker: `size-${CHUNK_SIZE}`,
  'max-file-links': String(MAX_LINKS),
  trickle: 'false',
  hash: 'sha2-256',
  inline: 'false',
  pin: 'true',
}

/** Loaded on first use: pulls never build DAGs, and the importer is a noticeable part of start-up. */
export async function importerOptions(): Promise<ImporterOptions> {
  const [{ fixedSize }, { balanced }] = await Promise.all([import('ipfs-unixfs-importer/chunker'), import('ipfs-unixfs-importer/layout')])
  return {
    cidVersion: 1,
    rawLeaves: true,
    reduceSingleLeafToSelf: true,
    wrapWithDirectory: false,
    chunker: fixedSize({ chunkSize: CHUNK_SIZE }),
    layout: balanced({ maxChildrenPerNode: MAX_LINKS }),
  }
}
