import { NotFoundError } from '../errors.js'
import { resolveTarget } from './address.js'
import { Connection, type CallOptions } from './connection.js'
import { ContainersService } from './containers.js'
import { ContentService } from './content.js'
import { DiffService } from './diff.js'
import { ImagesService } from './images.js'
import { IntrospectionService } from './introspection.js'
import { leaseRequest, type LeaseOptions } from './lease-options.js'
import { LeasesService, type Lease } from './leases.js'
import type { CallScope } from './metadata.js'
import { SnapshotsService } from './snapshots.js'
import { TasksService } from './tasks.js'
import type { TransportKind } from './transport.js'
import { version, type ServerVersion } from './version.js'

export interface ConnectOptions {
  /** Socket path or `unix://` URL; CONTAINERD_ADDRESS, then /run/containerd/containerd.sock by default. */
  address?: string | undefined
  /** CONTAINERD_NAMESPACE, then "default". */
  namespace?: string | undefined
  /** Give up on an unanswering socket after this long; 3 s. */
  connectTimeoutMs?: number | undefined
  /** The HTTP/2 client gRPC runs on: our own or node:http2 (IPCR_GRPC_TRANSPORT, then our own); for tests and benchmarks. */
  transport?: TransportKind | undefined
}

/** A lease made by createLease: `client` works inside it; `done` deletes it and may be called more than once. */
export interface LeaseHandle {
  readonly lease: Lease
  readonly client: ContainerdClient
  done(options?: { sync?: boolean }): Promise<void>
}

/**
 * containerd over its gRPC socket, scoped to a namespace and optionally a lease. Scoped views
 * (withNamespace, withLease, useLease) share one connection; close() on any of them closes it.
 */
export class ContainerdClient {
  readonly images: ImagesService
  readonly content: ContentService
  readonly leases: LeasesService
  readonly introspection: IntrospectionService
  readonly diff: DiffService
  readonly containers: ContainersService
  readonly tasks: TasksService

  private constructor(private readonly conn: Connection, private readonly scope: CallScope) {
    this.images = new ImagesService(conn, scope)
    this.content = new ContentService(conn, scope)
    this.leases = new LeasesService(conn, scope)
    this.introspection = new IntrospectionService(conn, scope)
    this.diff = new DiffService(conn, scope)
    this.containers = new ContainersService(conn, scope)
    this.tasks = new TasksService(conn, scope)
  }

  /** UnavailableError within connectTimeoutMs when containerd does not answer on the socket. */
  static async connect(opts: ConnectOptions = {}): Promise<ContainerdClient> {
    const { socketPath, namespace } = resolveTarget(opts)
    return new ContainerdClient(await Connection.open(socketPath, { timeoutMs: opts.connectTimeoutMs, transport: opts.transport }), { namespace })
  }

  get socketPath(): string { return this.conn.socketPath }
  get namespace(): string { return this.scope.namespace }
  /** The lease this view's calls carry, if any. */
  get lease(): string | undefined { return this.scope.lease }

  version(opts?: CallOptions): Promise<ServerVersion> {
    return version(this.conn, this.scope, opts)
  }

  /** Snapshots of one snapshotter, e.g. "overlayfs" or "stargz". */
  snapshots(snapshotter: string): SnapshotsService {
    return new SnapshotsService(this.conn, this.scope, snapshotter)
  }

  withNamespace(namespace: string): ContainerdClient {
    return new ContainerdClient(this.conn, { namespace, lease: this.scope.lease })
  }

  /** A view whose calls carry an existing lease, e.g. one with a fixed id made by an earlier command. */
  useLease(id: string): ContainerdClient {
    return new ContainerdClient(this.conn, { namespace: this.scope.namespace, lease: id })
  }

  /**
   * Create a lease (expiring in a day unless told otherwise, as ctr's) and a view inside it.
   * Inside a lease already, nothing is created and done() does nothing, as in containerd's client.
   */
  async createLease(opts: LeaseOptions = {}): Promise<LeaseHandle> {
    if (this.scope.lease !== undefined) {
      return { lease: { id: this.scope.lease, labels: {} }, client: this, done: async () => {} }
    }
    const lease = await this.leases.create(leaseRequest(opts))
    let deleted: Promise<void> | undefined
    return {
      lease,
      client: this.useLease(lease.id),
      done: (options = {}) => {
        deleted ??= this.leases.delete(lease.id, options).catch((err: unknown) => {
          if (!(err instanceof NotFoundError)) throw err
        })
        return deleted
      },
    }
  }

  /** Run `fn` inside a new lease and delete the lease afterwards, whatever happens. */
  async withLease<T>(fn: (client: ContainerdClient) => Promise<T>, opts: LeaseOptions = {}): Promise<T> {
    const handle = await this.createLease(opts)
    try {
      return await fn(handle.client)
    } finally {
      await handle.done()
    }
  }

  /** Close the shared connection; pending calls fail. */
  async close(): Promise<void> {
    this.conn.close()
  }
}
