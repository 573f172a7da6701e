import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { limitsFrom } from '../cli/limit-options.js'
import { log } from '../cli/log.js'
import { pullProgress } from '../cli/pull-progress.js'
import { ContainerdClient } from '../containerd/client.js'
import { chooseSnapshotter } from '../containerd/snapshotter-choice.js'
import { UsageError, withContext } from '../errors.js'
import { cidText } from '../ipfs/cid.js'
import { parsePullRef } from '../ipfs/ref.js'
import { resolvePullRef } from '../ipfs/resolve.js'
import { ipcrRoot } from '../ipfs/embedded.js'
import { KuboClient } from '../ipfs/kubo.js'
import { PinLedger, PinQuery, pinPulledImage } from '../ipfs/pins.js'
import { openPullSource } from '../ipfs/pull-source.js'
import { cidOfDescriptor } from '../stores/ipfs.js'
import { hostPlatform, parsePlatform } from '../oci/platform.js'
import type { PullEvent } from '../pull/events.js'
import { rpull } from '../pull/rpull.js'
import { parseDuration } from '../util/duration.js'

interface Options { ipfs?: boolean; snapshotter?: string; platform?: string[]; timeout: string; json: boolean; gateway?: string[]; car?: string; pin: boolean }

export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  const o = opts as unknown as Options
  const ref = args[0] === undefined && o.car !== undefined ? undefined : parsePullRef(args[0] ?? '')
  const timeoutMs = parseDuration(o.timeout, '--timeout')
  const platforms = { all: false as const, only: o.platform?.length ? o.platform.map(parsePlatform) : [hostPlatform()] }
  if (o.platform && o.platform.length > 1) throw new UsageError('rpull unpacks one platform: give --platform once')

  // Reach IPFS and containerd at once; if either fails, close the other.
  const [source, connected] = await Promise.allSettled([
    openPullSource({ api: globals.ipfsApi, gateways: o.gateway, car: o.car, notify: log.info }),
    ContainerdClient.connect({ address: globals.address, namespace: globals.namespace }),
  ])
  if (source.status === 'rejected' || connected.status === 'rejected') {
    if (source.status === 'fulfilled') await source.value.backend.close()
    if (connected.status === 'fulfilled') await connected.value.close()
    throw source.status === 'rejected' ? source.reason : (connected as PromiseRejectedResult).reason
  }
  const { backend, note, firstRoot, lazy } = source.value
  const client = connected.value
  log.info(note)
  const progress = await pullProgress()
  // kubo is asked which CIDs are pinned as the pull meets them, so that pinning adds little at the end.
  const pinQuery = o.pin && backend instanceof KuboClient ? new PinQuery(backend) : undefined
  const onEvent = (e: PullEvent): void => {
    if (e.type === 'fetch-start') void pinQuery?.isPinned(cidText(cidOfDescriptor(e.desc)))
    progress.onEvent(e)
  }
  try {
    const resolved = await resolvePullRef(ref ?? parsePullRef(firstRoot ?? ''), backend, { timeoutMs })
    void pinQuery?.isPinned(cidText(resolved.cid))
    const snapshotter = lazy || o.snapshotter ? await chooseSnapshotter(client, o.snapshotter)
      : { name: 'overlayfs', why: `the stargz snapshotter reads lazy layers through its own kubo, not the ${backend.description}` }
    log.info(`using the ${snapshotter.name} snapshotter (${snapshotter.why})`)
    const result = await rpull(client, backend, {
      rootCid: resolved.cid, name: resolved.name, remoteRef: resolved.remoteRef,
      snapshotter: snapshotter.name, platforms, timeoutMs, onEvent, limits: limitsFrom(opts),
    })
    progress.stop()
    log.info(`pulled ${result.name}: ${result.layers.remote} layer(s) mounted lazily, ${result.layers.applied} unpacked${result.parallel ? ' side by side' : ''}, ${result.layers.present} already present`)
    if (pinQuery) {
      // What was fetched is pinned, so this node keeps serving it to its peers; `image rm` unpins it.
      const cids = [cidText(resolved.cid), ...result.fetched.map((d) => cidText(cidOfDescriptor(d)))]
      const image = { containerd: globals.address, namespace: globals.namespace, image: result.name }
      const pins = await withContext(`pulled ${result.name} but could not pin it on kubo`, () => pinPulledImage(pinQuery.kubo, new PinLedger(ipcrRoot()), image, cids, pinQuery))
      log.info(`pinned ${new Set(cids).size} blob(s) on kubo node ${pins.node} (${pins.pinned.length} new pin(s)), so it serves this image to its peers`)
    }
    return {
      text: '',
      json: {
        name: result.name, root: cidText(resolved.cid), manifest: result.manifest.digest, snapshotter: result.snapshotter,
        layers: result.layers, unpack: result.parallel ? 'parallel' : 'sequential', fetched: result.fetched.map((d) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size })),
      },
    }
  } finally {
    progress.stop()
    await Promise.allSettled([client.close(), backend.close()])
  }
}
