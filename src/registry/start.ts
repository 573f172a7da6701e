import { join } from 'node:path'
import { ClusterClient } from '../cluster/client.js'
import { openClusterTarget, type ClusterTarget } from '../cluster/pin-image.js'
import { collectGarbage } from '../gc/collect.js'
import type { GcBounds } from '../gc/plan.js'
import type { IpfsBackend } from '../ipfs/backend.js'
import { ipcrRoot } from '../ipfs/embedded.js'
import { PushHistory } from '../ipfs/history.js'
import { defaultLimits, type ImageLimits } from '../oci/limits.js'
import type { AccessEntry } from './access-log.js'
import { ipfsBlobReader } from './blob-reader.js'
import { ImageCatalog } from './catalog.js'
import { RegistryContent } from './content.js'
import { backendHealth } from './health.js'
import { IpfsImagePublisher, type PublishSettings } from './ipfs-image.js'
import { RegistryMetrics } from './metrics.js'
import { PushedManifests } from './pushed-manifests.js'
import type { WriteAccess } from './roles.js'
import { serveRegistry, type ListenOptions, type RegistryWrites } from './server.js'
import { PushedBlobs } from './storage/blobs.js'
import { fsDriver } from './storage/fs-driver.js'
import { RegistryMetadata } from './storage/metadata.js'
import { UploadArea } from './storage/uploads.js'

/** The write side's settings (--allow-push and what goes with it). */
export interface PushSettings extends Omit<PublishSettings, 'env' | 'limits' | 'cluster'> {
  allowDelete: boolean
  /** An upload session untouched this long is dropped with its bytes (--upload-ttl). */
  uploadTtlMs: number
}

export interface StartOptions extends ListenOptions {
  resolveTimeoutMs: number
  /** Where pushed manifests, tags and upload sessions are kept; default $IPCR_ROOT/registry. */
  storageDir?: string
  /** Accept pushes; absent: read-only. */
  push?: PushSettings
  /** Pin every image a push makes through IPFS Cluster (checked at start: a minimum it cannot meet is refused). */
  cluster?: ClusterTarget
  /** Run `ipcr gc` with these bounds every intervalMs (kubo only). */
  gc?: GcBounds & { intervalMs: number }
  /** kubo's API, for gc (which opens its own connection). */
  ipfsApi?: string
  gate?: WriteAccess
  limits?: ImageLimits
  onRequest?: (entry: AccessEntry) => void
  /** Lines worth a log (a tag push and the root it became). */
  notify?: (line: string) => void
  env?: NodeJS.ProcessEnv
}

/** The registry over one IPFS backend: pushed content, the catalog of IPFS images, metrics and the server, wired. */
export async function startRegistry(ipfs: IpfsBackend, o: StartOptions): Promise<{ url: string; close(): Promise<void> }> {
  const metrics = new RegistryMetrics({ processMetrics: true })
  const history = new PushHistory(ipcrRoot(o.env))
  const catalog = new ImageCatalog(ipfs, {
    resolveTimeoutMs: o.resolveTimeoutMs,
    events: metrics,
    knownRefs: async () => (await history.list()).map((r) => r.ref),
  })
  const dir = o.storageDir ?? join(ipcrRoot(o.env), 'registry')
  const meta = new RegistryMetadata(fsDriver(dir))
  const blobs = new PushedBlobs(meta, ipfs, o.notify)
  const content = new RegistryContent(meta, blobs, catalog)
  const closing: Array<() => Promise<void>> = []
  let writes: RegistryWrites | undefined
  if (o.push) {
    const limits = o.limits ?? defaultLimits
    const uploads = new UploadArea(join(dir, 'uploads'), { ttlMs: o.push.uploadTtlMs, maxBlobSize: limits.layerSize })
    await resumeCommits(uploads, blobs)
    await uploads.sweep()
    const sweeper = setInterval(() => { void uploads.sweep().catch(() => undefined) }, Math.min(o.push.uploadTtlMs, 3_600_000))
    sweeper.unref()
    const target = o.cluster ? await openClusterTarget(o.cluster, ipcrRoot(o.env)) : undefined
    if (target?.note) o.notify?.(target.note)
    const cluster = target && o.cluster ? { url: o.cluster.url, pin: target.pin } : undefined
    const publisher = new IpfsImagePublisher(meta, ipfs, { ...o.push, limits, ...(o.env ? { env: o.env } : {}), ...(cluster ? { cluster } : {}) })
    // Every tag push publishes via IPNS. Its code (record signing and parsing) is loaded on first
    // use, which made the first manifest PUT after a start ~20 ms slower (bench/registry --side push,
    // a fresh server per round); load it now, while nothing waits on it.
    void ipfs.ipns().catch(() => undefined)
    closing.push(async () => { clearInterval(sweeper); await blobs.drain(); await publisher.close() })
    writes = { uploads, blobs, manifests: new PushedManifests(meta, blobs, ipfs, publisher, o.notify), allowDelete: o.push.allowDelete }
  }
  const pinning = ipfs.pinning
  const clusterClient = o.cluster ? new ClusterClient(o.cluster.url) : undefined
  metrics.observe({
    ...(pinning ? { repoSize: () => pinning.repoSize() } : {}),
    ...(clusterClient ? { clusterPins: () => clusterClient.localPinStates() } : {}),
  })
  if (o.gc) closing.push(scheduleGc(o.gc, metrics, o))
  const server = await serveRegistry({
    manifests: content, blobs: content, tags: content, referrers: content,
    reader: ipfsBlobReader(ipfs), health: backendHealth(ipfs), metrics,
    ...(writes ? { writes } : {}), ...(o.gate ? { gate: o.gate } : {}),
    ...(o.onRequest ? { onRequest: o.onRequest } : {}),
  }, o)
  return {
    url: server.url,
    close: async () => {
      await server.close()
      for (const c of closing) await c()
    },
  }
}

/**
 * Commits answered before a restart whose IPFS add had not finished: each session's bytes are
 * hashed again (the process that checked them is gone, and the file was not fsync'd) and, still
 * matching, added as the commit would have; a session that no longer matches is removed.
 */
async function resumeCommits(uploads: UploadArea, blobs: PushedBlobs): Promise<void> {
  for (const { session, digest } of await uploads.sealed()) {
    if ((await uploads.digest(session)) !== digest) {
      await uploads.remove(session.id)
      continue
    }
    blobs.accept(session.repo, digest, session.offset, () => uploads.bytes(session), () => uploads.remove(session.id))
  }
}

/** gc on a timer: one run at a time, each counted in /metrics, a failure logged and retried next time. */
function scheduleGc(gc: GcBounds & { intervalMs: number }, metrics: RegistryMetrics, o: StartOptions): () => Promise<void> {
  let running: Promise<void> | undefined
  const timer = setInterval(() => {
    running ??= collectGarbage({ ...gc, dryRun: false, ipfsApi: o.ipfsApi, ...(o.cluster ? { cluster: o.cluster.url } : {}), ...(o.env ? { env: o.env } : {}) })
      .then((r) => {
        metrics.gcRun('ok', r.repo ? Math.max(r.repo.before - r.repo.after, 0) : 0)
        if (r.removed.length > 0) o.notify?.(`gc: unpinned ${r.removed.map((i) => i.image).join(', ')}`)
      }, (err: unknown) => {
        metrics.gcRun('error')
        o.notify?.(`gc failed: ${(err as Error).message}`)
      })
      .finally(() => { running = undefined })
  }, gc.intervalMs)
  timer.unref()
  return async () => {
    clearInterval(timer)
    await running
  }
}
