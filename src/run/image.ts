import type { ContainerdClient } from '../containerd/client.js'
import type { CallOptions } from '../containerd/connection.js'
import { IntegrityError, NotFoundError } from '../errors.js'
import type { Descriptor } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'
import { hostPlatform, type Platform } from '../oci/platform.js'
import { ContainerdImageStore } from '../stores/containerd.js'
import { chainIds, diffIdsOf } from '../pull/chain.js'
import { readImageTree } from '../pull/tree.js'

/** The parts of an image config's `config` that shape a container (OCI image-spec ImageConfig). */
export interface ImageConfig {
  User?: string
  Env?: string[]
  Entrypoint?: string[]
  Cmd?: string[]
  WorkingDir?: string
  Labels?: Record<string, string>
  StopSignal?: string
}

/** An image in containerd, resolved to one platform: what a container of it needs. */
export interface RunImage {
  /** The image record's name. */
  name: string
  configDesc: Descriptor
  config: ImageConfig
  layers: Descriptor[]
  diffIds: Digest[]
  /** Committed snapshot names, bottom-up; the last is the container snapshot's parent. */
  chainIds: Digest[]
}

/** `ipfs://CID` and `/ipfs/CID` name the image rpull stored under the bare CID. */
export function imageNameOf(ref: string): string {
  for (const prefix of ['ipfs://', '/ipfs/']) if (ref.startsWith(prefix)) return ref.slice(prefix.length).replace(/\/+$/, '')
  return ref
}

const strings = (v: unknown): string[] | undefined => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined)

export function parseImageConfig(bytes: Uint8Array, what = 'image config'): ImageConfig {
  let doc: unknown
  try { doc = JSON.parse(Buffer.from(bytes).toString('utf8')) } catch { throw new IntegrityError(`${what} is not valid JSON`) }
  const c = (doc as { config?: Record<string, unknown> | null } | null)?.config
  if (c === undefined || c === null || typeof c !== 'object') return {}
  const out: ImageConfig = {}
  if (typeof c.User === 'string' && c.User !== '') out.User = c.User
  if (typeof c.WorkingDir === 'string' && c.WorkingDir !== '') out.WorkingDir = c.WorkingDir
  if (typeof c.StopSignal === 'string' && c.StopSignal !== '') out.StopSignal = c.StopSignal
  const env = strings(c.Env)
  if (env) out.Env = env
  const entrypoint = strings(c.Entrypoint)
  if (entrypoint) out.Entrypoint = entrypoint
  const cmd = strings(c.Cmd)
  if (cmd) out.Cmd = cmd
  if (c.Labels && typeof c.Labels === 'object') {
    out.Labels = Object.fromEntries(Object.entries(c.Labels as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string'))
  }
  return out
}

/**
 * Read an image's manifest for `platform` (this host's by default) and its config from containerd's
 * content store, verified. NotFoundError naming the namespace when there is no such image.
 */
export async function loadRunImage(client: ContainerdClient, ref: string, opts: CallOptions & { platform?: Platform } = {}): Promise<RunImage> {
  let name = imageNameOf(ref)
  let root: Descriptor
  try {
    root = (await client.images.get(name, opts)).target
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err
    // A CID in another spelling (CIDv0, another base) than the one rpull named the record with.
    const alt = await canonicalCid(name)
    if (alt === undefined || alt === name) throw notFound(ref, client.namespace, err)
    try { root = (await client.images.get(alt, opts)).target } catch (again) {
      throw again instanceof NotFoundError ? notFound(ref, client.namespace, again) : again
    }
    name = alt
  }
  const store = new ContainerdImageStore(client, name)
  const tree = await readImageTree(store, root, { platforms: { all: false, only: [opts.platform ?? hostPlatform()] }, one: true })
  const image = tree.images[0]
  if (image === undefined) throw new NotFoundError(`image "${name}" holds no manifest`)
  const what = `config ${image.configDesc.digest} of image "${name}"`
  const diffIds = diffIdsOf(image.config, what)
  if (diffIds.length !== image.layers.length) throw new IntegrityError(`${what} lists ${diffIds.length} diff IDs for ${image.layers.length} layers`)
  return { name, configDesc: image.configDesc, config: parseImageConfig(image.config, what), layers: image.layers, diffIds, chainIds: chainIds(diffIds) }
}

function notFound(ref: string, namespace: string, cause: unknown): NotFoundError {
  return new NotFoundError(`image "${ref}" not found in containerd namespace "${namespace}" (pull it first: ipcr i rpull --ipfs CID)`, { cause })
}

async function canonicalCid(name: string): Promise<string | undefined> {
  if (!/^(Qm|b)[1-9A-Za-z]{30,}$/.test(name)) return undefined
  const [{ parsePullRef }, { cidText }] = await Promise.all([import('../ipfs/ref.js'), import('../ipfs/cid.js')])
  try {
    const ref = parsePullRef(name)
    return ref.kind === 'cid' ? cidText(ref.cid) : undefined
  } catch { return undefined }
}
