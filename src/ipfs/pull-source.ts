import { UsageError } from '../errors.js'
import type { IpfsBackend } from './backend.js'
import { cidText } from './cid.js'
import { openIpfs } from './select.js'

export interface PullSourceSelection {
  api?: string | undefined
  gateways?: string[] | undefined
  car?: string | undefined
  env?: NodeJS.ProcessEnv
  /** Told when reads fall back from kubo's gateway to its RPC API. */
  notify?: (message: string) => void
}

export interface PullSource {
  backend: IpfsBackend
  /** For the stderr line that says where blobs come from. */
  note: string
  /** A CAR's first root: the image, when ipfs-push --car wrote it. */
  firstRoot?: string
  /**
   * Whether the stargz snapshotter may be chosen by default: it fetches lazily mounted layers through
   * its own kubo, which a pull from a CAR file or a gateway does not go through.
   */
  lazy: boolean
}

/** Where rpull fetches from: a CAR file, trustless gateways (tried in order), else kubo or the embedded store. */
export async function openPullSource(sel: PullSourceSelection): Promise<PullSource> {
  const gateways = sel.gateways ?? []
  if (sel.car !== undefined && gateways.length > 0) throw new UsageError('--car and --gateway cannot be used together: pick one source')
  if (sel.car !== undefined) {
    // CAR and gateway readers load only when asked for: a pull from kubo never needs them.
    const { CarIpfs } = await import('./car.js')
    const car = await CarIpfs.open(sel.car)
    const first = car.roots[0]
    return {
      backend: car, lazy: false,
      note: `reading ${car.path} (${car.roots.length} root(s)); every block is checked against its CID`,
      ...(first ? { firstRoot: cidText(first) } : {}),
    }
  }
  if (gateways.length > 0) {
    const { GatewayIpfs } = await import('./gateway.js')
    const gw = new GatewayIpfs(gateways)
    return { backend: gw, lazy: false, note: `using the ${gw.description} (no kubo needed); every block is checked against its CID` }
  }
  const { backend, note } = await openIpfs({ api: sel.api, ...(sel.env ? { env: sel.env } : {}), ...(sel.notify ? { notify: sel.notify } : {}) })
  return { backend, note, lazy: true }
}
