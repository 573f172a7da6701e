import type { IpfsBackend } from './backend.js'
import { EmbeddedIpfs, ipcrRoot } from './embedded.js'
import { PushHistory } from './history.js'
import type { Published } from './ipns.js'
import { parseCid } from './cid.js'

export interface PublishOptions {
  key?: string | undefined
  lifetimeMs: number
  ttlMs: number
  env?: NodeJS.ProcessEnv
}

/**
 * Publish a pushed root under its reference and remember it locally, so `ipns republish --all`
 * can renew it before the record expires and `image ls --ipfs` can list it.
 */
export async function publishPush(backend: IpfsBackend, ref: string, rootCid: string, o: PublishOptions): Promise<Published> {
  const ipns = await backend.ipns()
  const published = await ipns.publish(parseCid(rootCid), { ref, key: o.key, lifetimeMs: o.lifetimeMs, ttlMs: o.ttlMs })
  await new PushHistory(ipcrRoot(o.env)).record({
    ref, root: rootCid, ipnsName: published.name, key: o.key,
    backend: backend instanceof EmbeddedIpfs ? 'embedded' : 'kubo',
    pushedAt: new Date().toISOString(), expires: published.expires.toISOString(), lifetimeMs: o.lifetimeMs, ttlMs: o.ttlMs,
  })
  return published
}
