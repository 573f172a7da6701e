import { CID } from 'multiformats/cid'
import { base32 } from 'multiformats/bases/base32'
import { base36 } from 'multiformats/bases/base36'
import { UsageError } from '../errors.js'
import { importerOptions } from './profile.js'

export { CID }

/** Anything that can take the blocks of a DAG as it is built (the embedded store; a CAR writer). */
export interface BlockSink {
  put(cid: CID, bytes: Uint8Array): Promise<unknown> | unknown
}

const discard: BlockSink = { put: (cid) => cid }

/**
 * The CID kubo would give these bytes under our profile. Blocks go to `sink` (dropped by default),
 * so the same pass both computes the CID and stores the DAG.
 */
export async function cidOf(bytes: AsyncIterable<Uint8Array> | Uint8Array, sink: BlockSink = discard): Promise<CID> {
  const content = bytes instanceof Uint8Array ? [bytes] : bytes
  let root: CID | undefined
  const store = {
    put: async (cid: CID, block: Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<CID> => {
      await sink.put(cid, block instanceof Uint8Array ? block : await concat(block))
      return cid
    },
  }
  const { importer } = await import('ipfs-unixfs-importer')
  for await (const entry of importer([{ content }], store, await importerOptions())) {
    root = entry.cid
  }
  if (root === undefined) throw new Error('importer produced no root') // cannot happen for one file
  return root
}

async function concat(parts: Iterable<Uint8Array> | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const all: Uint8Array[] = []
  for await (const p of parts) all.push(p)
  return Buffer.concat(all)
}

/** Parse a CID as users and the Go tools write it (CIDv0 Qm… or CIDv1 in base32 or base36). */
export function parseCid(text: string): CID {
  try {
    return text.startsWith('k') ? CID.parse(text, base36) : CID.parse(text)
  } catch {
    throw new UsageError(`"${text}" is not a CID`)
  }
}

/** The CIDv1 base32 text the Go tools put in ipfs:// URLs. */
export function cidText(cid: CID): string {
  return cid.toV1().toString(base32)
}
