import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { CatalogEvents } from './roles.js'

/** The server's Prometheus metrics, in a registry of its own (nothing global, so tests can make several). */
export class RegistryMetrics implements CatalogEvents {
  readonly registry = new Registry()
  private readonly requests = new Counter({
    name: 'ipcr_registry_requests_total', help: 'HTTP requests answered, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const, registers: [this.registry],
  })
  private readonly bytes = new Counter({
    name: 'ipcr_registry_bytes_served_total', help: 'Response body bytes handed to clients, by route',
    labelNames: ['route'] as const, registers: [this.registry],
  })
  private readonly received = new Counter({
    name: 'ipcr_registry_bytes_received_total', help: 'Request body bytes taken from clients (pushes), by route',
    labelNames: ['route'] as const, registers: [this.registry],
  })
  private readonly tables = new Counter({
    name: 'ipcr_registry_digest_table_cache_total', help: 'Digest-table lookups (an image walked from its root), hit or miss',
    labelNames: ['result'] as const, registers: [this.registry],
  })
  private readonly resolves = new Histogram({
    name: 'ipcr_registry_ipns_resolve_seconds', help: 'Time to resolve a name through IPNS, by outcome',
    labelNames: ['outcome'] as const, buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10], registers: [this.registry],
  })

  private readonly gcRuns = new Counter({
    name: 'ipcr_registry_gc_runs_total', help: 'gc runs on the server\'s timer, by outcome (ok, error)',
    labelNames: ['outcome'] as const, registers: [this.registry],
  })
  private readonly gcFreed = new Counter({
    name: 'ipcr_registry_gc_freed_bytes_total', help: 'Bytes kubo\'s repo shrank by in gc runs', registers: [this.registry],
  })

  constructor(o: { processMetrics?: boolean } = {}) {
    if (o.processMetrics === true) collectDefaultMetrics({ register: this.registry, prefix: 'ipcr_registry_' })
  }

  /**
   * Gauges read when /metrics is scraped: the IPFS repo's size and the cluster's pins by state
   * (each source may be absent: the embedded store has no repo GC, a server without --cluster no pins).
   */
  observe(sources: { repoSize?: () => Promise<number>; clusterPins?: () => Promise<Record<string, number>> }): void {
    const { repoSize, clusterPins } = sources
    if (repoSize) {
      new Gauge({
        name: 'ipcr_registry_ipfs_repo_bytes', help: 'Size of the IPFS node\'s repo (kubo repo stat)', registers: [this.registry],
        async collect() { this.set(await repoSize()) },
      })
    }
    if (clusterPins) {
      new Gauge({
        name: 'ipcr_registry_cluster_pins', help: 'Pins of the IPFS Cluster on this node\'s peer, by state (pinned, pin_queued, pin_error, …)',
        labelNames: ['state'] as const, registers: [this.registry],
        async collect() {
          this.reset()
          for (const [state, n] of Object.entries(await clusterPins())) this.set({ state }, n)
        },
      })
    }
  }

  gcRun(outcome: 'ok' | 'error', freedBytes = 0): void {
    this.gcRuns.inc({ outcome })
    if (freedBytes > 0) this.gcFreed.inc(freedBytes)
  }

  request(route: string, method: string, status: number): void {
    this.requests.inc({ route, method, status: String(status) })
  }

  served(route: string, bytes: number): void {
    if (bytes > 0) this.bytes.inc({ route }, bytes)
  }

  took(route: string, bytes: number): void {
    if (bytes > 0) this.received.inc({ route }, bytes)
  }

  tableCache(result: 'hit' | 'miss'): void {
    this.tables.inc({ result })
  }

  resolved(seconds: number, outcome: 'ok' | 'timeout' | 'error'): void {
    this.resolves.observe({ outcome }, seconds)
  }

  async render(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() }
  }
}
