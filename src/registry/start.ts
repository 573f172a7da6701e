import type { IpfsBackend } from '../ipfs/backend.js'
import { ipcrRoot } from '../ipfs/embedded.js'
import { PushHistory } from '../ipfs/history.js'
import type { AccessEntry } from './access-log.js'
import { ipfsBlobReader } from './blob-reader.js'
import { ImageCatalog } from './catalog.js'
import { backendHealth } from './health.js'
import { RegistryMetrics } from './metrics.js'
import { serveRegistry, type ListenOptions } from './server.js'

export interface StartOptions extends ListenOptions {
  resolveTimeoutMs: number
  onRequest?: (entry: AccessEntry) => void
  env?: NodeJS.ProcessEnv
}

/** The registry over one IPFS backend: the catalog of images, its metrics, and the server, wired. */
export async function startRegistry(ipfs: IpfsBackend, o: StartOptions): Promise<{ url: string; close(): Promise<void> }> {
  const metrics = new RegistryMetrics({ processMetrics: true })
  const history = new PushHistory(ipcrRoot(o.env))
  const catalog = new ImageCatalog(ipfs, {
    resolveTimeoutMs: o.resolveTimeoutMs,
    events: metrics,
    knownRefs: async () => (await history.list()).map((r) => r.ref),
  })
  return serveRegistry({
    manifests: catalog, blobs: catalog, tags: catalog, reader: ipfsBlobReader(ipfs), health: backendHealth(ipfs), metrics,
    ...(o.onRequest ? { onRequest: o.onRequest } : {}),
  }, o)
}
