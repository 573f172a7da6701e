import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { Option, type Command } from 'commander'
import { UsageError } from '../errors.js'
import { parseListen } from '../ipfs/serve.js'
import type { LogFormat } from '../registry/access-log.js'
import type { PushSettings } from '../registry/start.js'
import { loadWriteGate, type WriteGate } from '../registry/write-gate.js'
import type { GcBounds } from '../gc/plan.js'
import { parseDuration } from '../util/duration.js'
import { parseSize } from '../util/size.js'
import type { ClusterTarget } from '../cluster/pin-image.js'
import { addClusterOptions, clusterTargetFrom } from './cluster-options.js'
import { addEstargzOptions, estargzOptionsFrom } from './estargz-options.js'
import { parseBool } from './option-parsers.js'

/** `registry serve`'s flags beyond listening: the write side, what a push becomes, and who may push. */
export function addRegistryServeOptions(cmd: Command): Command {
  return addClusterOptions(addEstargzOptions(cmd))
    .option('--storage <dir>', 'where pushed manifests, tags and upload sessions are kept (default: $IPCR_ROOT/registry)')
    .option('--allow-push', 'accept pushes (uploads, manifest PUT); each tag pushed becomes an IPFS-enabled image published via IPNS; beyond loopback only with --htpasswd or --client-ca', false)
    .option('--allow-delete', 'accept DELETE of manifests, tags and blobs (with --allow-push)', false)
    .option('--htpasswd <file>', 'writes (and the GET /v2/ ping) need Basic credentials of a user of this file (bcrypt entries: htpasswd -B); reloaded when it changes')
    .option('--client-ca <file>', 'with --tls-cert: ask clients for a certificate; one signed by these PEM CAs may write (reads need none)')
    .option('--upload-ttl <duration>', 'an upload session untouched this long is dropped with its bytes', '1h')
    .addOption(new Option('--estargz [bool]', 'convert pushed layers to eStargz for the IPFS-enabled image (the pushed bytes stay as pushed)').argParser(parseBool('estargz')).default(false))
    .option('--ipns-key <name>', 'publish pushed tags under this existing kubo key instead of the key derived from each reference')
    .option('--ipns-lifetime <duration>', 'how long a pushed tag\'s IPNS record stays valid', '48h')
    .option('--ipns-ttl <duration>', 'how long resolvers may cache a pushed tag\'s record', '5m')
    .option('--gc-keep-size <size>', 'run `ipcr gc --keep-size` on a timer (kubo): keep pinned images within this size')
    .option('--gc-keep-age <duration>', 'run `ipcr gc --keep-age` on a timer (kubo): unpin images not pulled for this long')
    .option('--gc-interval <duration>', 'how often gc runs with --gc-keep-size/--gc-keep-age', '1h')
}

interface Flags {
  listen: string; tlsCert?: string; tlsKey?: string; clientCa?: string; htpasswd?: string
  resolveTimeout: string; logFormat: string
  storage?: string; allowPush: boolean; allowDelete: boolean; uploadTtl: string; estargz: boolean
  ipnsKey?: string; ipnsLifetime: string; ipnsTtl: string
  gcKeepSize?: string; gcKeepAge?: string; gcInterval: string
}

export interface ServeOptions {
  listen: { host: string; port: number }
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer }
  resolveTimeoutMs: number
  format: LogFormat
  gate: WriteGate
  /** The write side's settings; absent: read-only. */
  push?: PushSettings
  cluster?: ClusterTarget
  storageDir?: string
  gc?: GcBounds & { intervalMs: number }
}

async function readFlagFile(flag: string, file: string): Promise<Buffer> {
  try {
    return await readFile(file)
  } catch (err) {
    throw new UsageError(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`)
  }
}

/** A PEM bundle with at least one certificate that parses: caught now, not at the first handshake. */
async function readClientCa(file: string): Promise<Buffer> {
  const pem = await readFlagFile('--client-ca', file)
  try {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM certificate in it')
    void new X509Certificate(pem) // throws on a malformed first certificate
  } catch (err) {
    throw new UsageError(`--client-ca ${file}: expected a PEM CA bundle (${(err as Error).message})`)
  }
  return pem
}

/** `registry serve`'s flags, checked and read, every refusal a one-line UsageError before anything opens. */
export async function serveOptionsFrom(opts: Record<string, unknown>, notify: (message: string) => void): Promise<ServeOptions> {
  const o = opts as unknown as Flags
  if (o.logFormat !== 'text' && o.logFormat !== 'json') throw new UsageError(`--log-format ${o.logFormat}: expected text or json`)
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together')
  if (o.allowDelete && !o.allowPush) throw new UsageError('--allow-delete needs --allow-push: deletes are writes')
  const listen = parseListen(o.listen)
  const resolveTimeoutMs = parseDuration(o.resolveTimeout, '--resolve-timeout')
  // The gate first: it refuses the flag combinations that would leave pushes open.
  const gate = await loadWriteGate({
    allowPush: o.allowPush, listenHost: listen.host, tls: o.tlsCert !== undefined, clientCa: o.clientCa !== undefined, notify,
    ...(o.htpasswd !== undefined ? { htpasswdFile: o.htpasswd } : {}),
  })
  const tls = o.tlsCert !== undefined && o.tlsKey !== undefined ? {
    cert: await readFlagFile('--tls-cert', o.tlsCert), key: await readFlagFile('--tls-key', o.tlsKey),
    ...(o.clientCa !== undefined ? { clientCa: await readClientCa(o.clientCa) } : {}),
  } : undefined
  const push: PushSettings | undefined = o.allowPush ? {
    allowDelete: o.allowDelete,
    uploadTtlMs: parseDuration(o.uploadTtl, '--upload-ttl'),
    estargz: o.estargz && await estargzOptionsFrom(opts),
    lifetimeMs: parseDuration(o.ipnsLifetime, '--ipns-lifetime'),
    ttlMs: parseDuration(o.ipnsTtl, '--ipns-ttl'),
    ...(o.ipnsKey !== undefined ? { ipnsKey: o.ipnsKey } : {}),
  } : undefined
  const gc = o.gcKeepSize === undefined && o.gcKeepAge === undefined ? undefined : {
    intervalMs: parseDuration(o.gcInterval, '--gc-interval'),
    ...(o.gcKeepSize !== undefined ? { keepSize: parseSize(o.gcKeepSize, '--gc-keep-size') } : {}),
    ...(o.gcKeepAge !== undefined ? { keepAgeMs: parseDuration(o.gcKeepAge, '--gc-keep-age') } : {}),
  }
  const cluster = clusterTargetFrom(opts)
  return {
    listen, ...(tls ? { tls } : {}), resolveTimeoutMs, format: o.logFormat, gate, ...(cluster ? { cluster } : {}), ...(gc ? { gc } : {}),
    ...(push ? { push } : {}), ...(o.storage !== undefined ? { storageDir: o.storage } : {}),
  }
}
