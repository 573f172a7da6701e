import { createReadStream } from 'node:fs'
import type { CID } from 'multiformats/cid'
import { IpcrError, UsageError } from '../errors.js'
import type { IpfsBackend } from './backend.js'
import { verifyBlock } from './block.js'
import { carBlocks, verifyCarFile, type CarSummary } from './car.js'
import { cidText, parseCid } from './cid.js'
import { EmbeddedIpfs } from './embedded.js'
import { KuboClient, KuboError, multipartFile } from './kubo.js'

export interface ImportResult extends CarSummary {
  /** Where the blocks went. */
  backend: string
}

/**
 * `ipcr ipfs import FILE`: check every block of a CAR against its CID (and that it is complete),
 * then load it into kubo with `dag/import`, which pins every root, or into the embedded store.
 * A CAR that fails the check imports nothing.
 */
export async function importCar(path: string, backend: IpfsBackend, o: { signal?: AbortSignal } = {}): Promise<ImportResult> {
  const summary = await verifyCarFile(path)
  if (backend instanceof KuboClient) {
    await importIntoKubo(backend, path, summary.roots, o.signal)
  } else if (backend instanceof EmbeddedIpfs) {
    // Checked again as they are stored: the file is read twice and could have changed in between.
    const { blocks } = await carBlocks(path)
    for await (const block of blocks) await backend.blocks.put(block.cid, verifyBlock(block.cid, block.bytes, path))
    await backend.blocks.flush()
  } else {
    throw new UsageError(`cannot import into ${backend.description}`)
  }
  return { ...summary, backend: backend.description }
}

async function importIntoKubo(kubo: KuboClient, path: string, roots: CID[], signal: AbortSignal | undefined): Promise<void> {
  const reply = await kubo.call('dag/import', { 'pin-roots': 'true', stats: 'false', 'allow-big-block': 'false' }, {
    ...multipartFile(createReadStream(path, { highWaterMark: 1 << 20 }), 'image.car'), signal,
  })
  const pinned = new Set<string>()
  let text = ''
  for await (const chunk of reply.body) text += Buffer.from(chunk).toString('utf8')
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    const entry = JSON.parse(line) as { Root?: { Cid?: { '/': string }; PinErrorMsg?: string }; Message?: string }
    if (entry.Message !== undefined && entry.Root === undefined) throw new KuboError(`kubo dag/import failed: ${entry.Message}`)
    const cid = entry.Root?.Cid?.['/']
    if (cid === undefined) continue
    if (entry.Root?.PinErrorMsg) throw new KuboError(`kubo imported ${path} but could not pin ${cid}: ${entry.Root.PinErrorMsg}`)
    pinned.add(cidText(parseCid(cid)))
  }
  const trailer = reply.trailers()['x-stream-error']
  if (typeof trailer === 'string' && trailer !== '') throw new KuboError(`kubo dag/import failed: ${trailer}`)
  const unpinned = roots.map(cidText).filter((r) => !pinned.has(r))
  if (unpinned.length > 0) throw new IpcrError(`kubo did not report pinning ${unpinned.join(', ')} from ${path}`)
}
