import { readFile } from 'node:fs/promises'
import { Option, type Command } from 'commander'
import { UsageError } from '../errors.js'
import type { PushSettings } from '../registry/start.js'
import { parseDuration } from '../util/duration.js'
import { addEstargzOptions, estargzOptionsFrom } from './estargz-options.js'
import { parseBool } from './option-parsers.js'

/** `registry serve`'s flags beyond listening: the write side, what a push becomes, and who may push. */
export function addRegistryServeOptions(cmd: Command): Command {
  return addEstargzOptions(cmd)
    .option('--storage <dir>', 'where pushed manifests, tags and upload sessions are kept (default: $IPCR_ROOT/registry)')
    .option('--allow-push', 'accept pushes (blob uploads, manifest PUT); each tag pushed becomes an IPFS-enabled image published via IPNS', false)
    .option('--allow-delete', 'accept DELETE of manifests, tags and blobs (with --allow-push)', false)
    .option('--upload-ttl <duration>', 'an upload session untouched this long is dropped with its bytes', '1h')
    .addOption(new Option('--estargz [bool]', 'convert pushed layers to eStargz for the IPFS-enabled image (the pushed bytes stay as pushed)').argParser(parseBool('estargz')).default(false))
    .option('--ipns-key <name>', 'publish pushed tags under this existing kubo key instead of the key derived from each reference')
    .option('--ipns-lifetime <duration>', 'how long a pushed tag\'s IPNS record stays valid', '48h')
    .option('--ipns-ttl <duration>', 'how long resolvers may cache a pushed tag\'s record', '5m')
}

interface Flags {
  storage?: string; allowPush: boolean; allowDelete: boolean; uploadTtl: string; estargz: boolean
  ipnsKey?: string; ipnsLifetime: string; ipnsTtl: string; tlsCert?: string; tlsKey?: string
}

/** The write side's settings (undefined: read-only), the storage dir and the TLS material. */
export async function registryServeOptionsFrom(opts: Record<string, unknown>): Promise<{ push?: PushSettings; storageDir?: string; tls?: { cert: Buffer; key: Buffer } }> {
  const o = opts as unknown as Flags
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together')
  if (o.allowDelete && !o.allowPush) throw new UsageError('--allow-delete needs --allow-push: deletes are writes')
  const read = (file: string, flag: string): Promise<Buffer> => readFile(file).catch((err: Error) => { throw new UsageError(`cannot read ${flag} ${file}: ${err.message}`) })
  const tls = o.tlsCert !== undefined && o.tlsKey !== undefined ? { cert: await read(o.tlsCert, '--tls-cert'), key: await read(o.tlsKey, '--tls-key') } : undefined
  const push: PushSettings | undefined = o.allowPush ? {
    allowDelete: o.allowDelete,
    uploadTtlMs: parseDuration(o.uploadTtl, '--upload-ttl'),
    estargz: o.estargz && await estargzOptionsFrom(opts),
    lifetimeMs: parseDuration(o.ipnsLifetime, '--ipns-lifetime'),
    ttlMs: parseDuration(o.ipnsTtl, '--ipns-ttl'),
    ...(o.ipnsKey !== undefined ? { ipnsKey: o.ipnsKey } : {}),
  } : undefined
  return { ...(push ? { push } : {}), ...(o.storage !== undefined ? { storageDir: o.storage } : {}), ...(tls ? { tls } : {}) }
}
