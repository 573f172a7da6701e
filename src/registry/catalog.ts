import { IntegrityError, NotFoundError, UnavailableError, UsageError } from '../errors.js'
import type { IpfsBackend } from '../ipfs/backend.js'
import { cidText, type CID } from '../ipfs/cid.js'
import { parsePullRef, type PullRef } from '../ipfs/ref.js'
import { ipnsNameForRef } from '../ipfs/ipns-key.js'
import { resolvePullRef } from '../ipfs/resolve.js'
import type { Digest } from '../oci/digest.js'
import { Lru } from '../util/lru.js'
import { walkImage, type ImageTable, type TableEntry } from '../stores/ipfs-walk.js'
import { RegistryError, type ErrorCode } from './errors.js'
import { describeRepository, type ManifestRef, type Repository } from './names.js'
import type { BlobStatter, CatalogEvents, ManifestFinder, TagLister } from './roles.js'

export interface CatalogOptions {
  /** How long a name (IPNS, or the root CID itself) may take to resolve before it is "unknown" (404). */
  resolveTimeoutMs: number
  /** How long a name's root is believed before IPNS is asked again, when its record's TTL is not at hand. */
  nameTtlMs?: number
  /** Images whose digest tables are kept (least recently used go first). */
  maxImages?: number
  /** Names (references, IPNS names) and repositories remembered. */
  maxNames?: number
  /**
   * How long a repository whose tag did not resolve is answered 404 at once (default 10 s): a
   * mirror pull that missed asks again by digest (containerd resolves the tag upstream, then
   * fetches the manifest from each host in order), and would otherwise wait out the timeout twice.
   */
  missTtlMs?: number
  /** The walk below a found root (child manifests) may take this long before it is UNAVAILABLE. */
  walkTimeoutMs?: number
  /** References published from this machine (its push history), for tags/list. */
  knownRefs?: () => Promise<string[]>
  events?: CatalogEvents
}

/** Roots kept per repository for blob lookups: the images served under its tags lately. */
const rootsPerRepository = 8

/**
 * The registry's view of IPFS: names resolve to roots, roots to digest tables (one walk each,
 * kept in an LRU; CIDs never change, so tables never expire), and a repository remembers the roots
 * its tags resolved to, because a pull asks for blobs by repository and digest only.
 */
export class ImageCatalog implements ManifestFinder, BlobStatter, TagLister {
  private readonly tables: Lru<string, ImageTable>
  private readonly names: Lru<string, { ref: string; root: CID }>
  private readonly repos: Lru<string, CID[]>
  /** Repositories whose last tag lookup found nothing, for missTtlMs. */
  private readonly misses: Lru<string, true>
  private readonly walking = new Map<string, Promise<ImageTable>>()
  private readonly resolving = new Map<string, Promise<CID>>()

  constructor(private readonly ipfs: IpfsBackend, private readonly o: CatalogOptions) {
    this.tables = new Lru(o.maxImages ?? 256)
    this.names = new Lru(o.maxNames ?? 1024)
    this.repos = new Lru(o.maxNames ?? 1024)
    this.misses = new Lru(o.maxNames ?? 1024)
  }

  async manifest(repo: Repository, ref: ManifestRef): Promise<TableEntry & { manifest: Buffer }> {
    if (repo.kind !== 'ref') {
      if (ref.kind === 'tag' && ref.tag !== 'latest') throw new RegistryError('MANIFEST_UNKNOWN', `${describeRepository(repo)} has one tag, latest`)
      const table = await this.tableOf(await this.rootOf(repo, 'NAME_UNKNOWN'), 'NAME_UNKNOWN', repo)
      return ref.kind === 'tag' ? table.target : manifestIn(table, ref.digest)
    }
    if (ref.kind === 'tag') {
      const text = `${repo.base}:${ref.tag}`
      const root = await this.resolve(text, parseRef(text), 'MANIFEST_UNKNOWN').catch((err: unknown) => {
        this.misses.set(repo.base, true, this.o.missTtlMs ?? 10_000)
        throw err
      })
      this.misses.delete(repo.base)
      const table = await this.tableOf(root, 'MANIFEST_UNKNOWN', repo)
      this.remember(repo.base, root)
      return table.target
    }
    for (const table of await this.recentTables(repo.base)) {
      const entry = table.entries.get(ref.digest)
      if (entry?.manifest) return entry as TableEntry & { manifest: Buffer }
    }
    if (this.misses.get(repo.base)) throw new RegistryError('MANIFEST_UNKNOWN', `${repo.base}: its tag did not resolve through IPNS here a moment ago`)
    // Not under a tag served lately: perhaps pushed by digest (ipfs-push --ref NAME@sha256:…).
    const text = `${repo.base}@${ref.digest}`
    const root = await this.resolve(text, parseRef(text), 'MANIFEST_UNKNOWN')
    const table = await this.tableOf(root, 'MANIFEST_UNKNOWN', repo)
    this.remember(repo.base, root)
    return manifestIn(table, ref.digest)
  }

  async stat(repo: Repository, digest: Digest): Promise<TableEntry> {
    const tables = repo.kind === 'ref'
      ? await this.recentTables(repo.base)
      : [await this.tableOf(await this.rootOf(repo, 'NAME_UNKNOWN'), 'NAME_UNKNOWN', repo)]
    for (const table of tables) {
      const entry = table.entries.get(digest)
      if (entry) return entry
    }
    throw new RegistryError('BLOB_UNKNOWN', repo.kind === 'ref' && tables.length === 0
      ? `no image of ${repo.base} was resolved lately: ask for its manifest by tag first`
      : { digest })
  }

  async tags(repo: Repository): Promise<string[]> {
    if (repo.kind !== 'ref') {
      await this.rootOf(repo, 'NAME_UNKNOWN')
      return ['latest']
    }
    const prefix = `${repo.base}:`
    const refs = [...this.names.valuesNewestFirst()].map((n) => n.ref)
    refs.push(...(await this.o.knownRefs?.().catch(() => []) ?? []))
    const tags = [...new Set(refs.filter((r) => r.startsWith(prefix)).map((r) => r.slice(prefix.length)))].filter((t) => !/[/:@]/.test(t))
    if (tags.length === 0) throw new RegistryError('NAME_UNKNOWN', `no tag of ${repo.base} is known here`)
    return tags.sort()
  }

  /** The root of an ipfs/ or ipns/ repository. */
  private async rootOf(repo: Exclude<Repository, { kind: 'ref' }>, unknown: ErrorCode): Promise<CID> {
    return repo.kind === 'cid' ? repo.cid : this.resolve(`/ipns/${repo.ipns}`, parseRef(`/ipns/${repo.ipns}`, unknown), unknown)
  }

  /** A name's root, from the cache while its TTL lasts; concurrent requests for one name share one resolution. */
  private async resolve(key: string, ref: PullRef, unknown: ErrorCode): Promise<CID> {
    const cached = this.names.get(key)
    if (cached) return cached.root
    let pending = this.resolving.get(key)
    if (!pending) {
      const started = performance.now()
      pending = Promise.all([resolvePullRef(ref, this.ipfs, { timeoutMs: this.o.resolveTimeoutMs }), this.recordTtl(ref)]).then(
        ([{ cid }, ttlMs]) => {
          this.o.events?.resolved((performance.now() - started) / 1000, 'ok')
          this.names.set(key, { ref: key, root: cid }, ttlMs ?? this.o.nameTtlMs ?? 30_000)
          return cid
        },
        (err: unknown) => {
          this.o.events?.resolved((performance.now() - started) / 1000, err instanceof UnavailableError ? 'timeout' : 'error')
          // Unknown and slow are one answer: 404 at once, so that containerd tries its next host.
          throw new RegistryError(unknown, `${key} does not resolve through IPNS here`)
        },
      ).finally(() => this.resolving.delete(key))
      this.resolving.set(key, pending)
    }
    return pending
  }

  /**
   * How long a name's answer may be kept: its IPNS record's TTL (what ipfs-push --ipns-ttl set,
   * 5 min by default), at most an hour; undefined when the backend holds no record to ask.
   */
  private async recordTtl(ref: PullRef): Promise<number | undefined> {
    if (ref.kind === 'cid') return undefined
    const name = ref.kind === 'ref' ? ipnsNameForRef(ref.ref) : ref.name
    const ttl = await this.ipfs.ipns().then((ipns) => ipns.ttl(name)).catch(() => undefined)
    return ttl === undefined || ttl <= 0 ? undefined : Math.min(ttl, 3_600_000)
  }

  private async tableOf(root: CID, unknown: ErrorCode, repo: Repository): Promise<ImageTable> {
    const key = cidText(root)
    const cached = this.tables.get(key)
    if (cached) {
      this.o.events?.tableCache('hit')
      return cached
    }
    this.o.events?.tableCache('miss')
    let pending = this.walking.get(key)
    if (!pending) {
      const rootSignal = AbortSignal.timeout(this.o.resolveTimeoutMs)
      pending = walkImage(root, this.ipfs, { rootSignal, signal: AbortSignal.timeout(this.o.walkTimeoutMs ?? 60_000) })
        .then((table) => { this.tables.set(key, table); return table })
        .catch((err: unknown) => { throw new WalkFailure(failureKind(err, rootSignal), err) })
        .finally(() => this.walking.delete(key))
      this.walking.set(key, pending)
    }
    return pending.catch((err: unknown) => { throw walkError(err, key, unknown, repo) })
  }

  private remember(base: string, root: CID): void {
    const roots = this.repos.get(base) ?? []
    this.repos.set(base, [root, ...roots.filter((r) => !r.equals(root))].slice(0, rootsPerRepository))
  }

  private async recentTables(base: string): Promise<ImageTable[]> {
    const roots = this.repos.get(base) ?? []
    const tables = await Promise.allSettled(roots.map((r) => this.tableOf(r, 'BLOB_UNKNOWN', { kind: 'ref', name: base, base })))
    return tables.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []))
  }
}

function manifestIn(table: ImageTable, digest: Digest): TableEntry & { manifest: Buffer } {
  const entry = table.entries.get(digest)
  if (!entry?.manifest) throw new RegistryError('MANIFEST_UNKNOWN', { digest })
  return entry as TableEntry & { manifest: Buffer }
}

function parseRef(text: string, unknown: ErrorCode = 'MANIFEST_UNKNOWN'): PullRef {
  try {
    return parsePullRef(text)
  } catch (err) {
    if (err instanceof UsageError) throw new RegistryError(unknown, `${text} is not a reference ipfs-push could have published`)
    throw err
  }
}

/** Why a walk failed: the root was not found in time, the image is malformed, or IPFS failed. */
class WalkFailure extends Error {
  constructor(readonly kind: 'unknown' | 'broken' | 'unavailable', cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause })
  }
}

function failureKind(err: unknown, rootSignal: AbortSignal): WalkFailure['kind'] {
  // A root the store lacks, or that IPFS did not find before the resolve timeout, names nothing here.
  if (err instanceof NotFoundError || rootSignal.aborted) return 'unknown'
  if (err instanceof IntegrityError) return 'broken'
  return 'unavailable'
}

/** What a client is told when a root cannot be walked; the local cause (paths and all) stays in the server's log. */
function walkError(err: unknown, root: string, unknown: ErrorCode, repo: Repository): Error {
  if (!(err instanceof WalkFailure)) return err instanceof Error ? err : new Error(String(err))
  const detail = err.kind === 'unknown' ? `${describeRepository(repo)}: IPFS did not find ${root} in time`
    : err.kind === 'broken' ? `${root} is not a well-formed IPFS-enabled image` : `IPFS failed while reading ${root}`
  const e = new RegistryError(err.kind === 'unknown' ? unknown : err.kind === 'broken' ? 'UNKNOWN' : 'UNAVAILABLE', detail)
  e.cause = err.cause
  return e
}
