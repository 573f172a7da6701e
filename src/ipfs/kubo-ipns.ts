import { NotFoundError } from '../errors.js'
import { parseCid, type CID } from './cid.js'
import { deriveKey, pkcs8Pem } from './ipns-key.js'
import { KuboClient, KuboError, multipartFile, replyJson } from './kubo.js'
import { once } from '../util/once.js'

export interface PublishOptions {
  /** Publish under this existing kubo key instead of the one derived from the reference. */
  key?: string | undefined
  lifetime: string
  ttl: string
}

/**
 * Make sure kubo holds the key derived from `ref`, named by the reference itself; importing a
 * key that is already there is fine. Returns the key's IPNS name as kubo reports it.
 */
export async function importDerivedKey(kubo: KuboClient, ref: string): Promise<string> {
  const have = await replyJson<{ Keys?: Array<{ Name: string; Id: string }> }>(await kubo.call('key/list', { l: 'true' }))
  const existing = have.Keys?.find((k) => k.Name === ref)
  if (existing) return existing.Id
  const pem = Buffer.from(pkcs8Pem(deriveKey(ref)))
  const reply = await kubo.call('key/import', { arg: ref, format: 'pem-pkcs8-cleartext', 'ipns-base': 'base36' }, multipartFile(once(pem), 'key'))
  return (await replyJson<{ Name: string; Id: string }>(reply)).Id
}

/** Publish /ipfs/<root> under the reference's derived key (or a named kubo key); returns the IPNS name. */
export async function publishRef(kubo: KuboClient, ref: string, root: CID, o: PublishOptions): Promise<{ name: string; value: string }> {
  const key = o.key ?? ref
  if (o.key === undefined) await importDerivedKey(kubo, ref)
  const reply = await kubo.call('name/publish', {
    arg: `/ipfs/${root.toString()}`, key, 'allow-offline': 'true', lifetime: o.lifetime, ttl: o.ttl, 'ipns-base': 'base36', resolve: 'false',
  })
  const r = await replyJson<{ Name: string; Value: string }>(reply)
  return { name: r.Name, value: r.Value }
}

/** Resolve /ipns/<name> (a key name or DNSLink domain) to the root CID, bypassing kubo's cache. */
export async function resolveName(kubo: KuboClient, name: string, signal?: AbortSignal): Promise<CID> {
  let path: string
  try {
    path = (await replyJson<{ Path: string }>(await kubo.call('name/resolve', { arg: `/ipns/${name}`, nocache: 'true', recursive: 'true' }, { signal }))).Path
  } catch (err) {
    if (err instanceof KuboError) throw new NotFoundError(`could not resolve /ipns/${name}: ${err.message}`)
    throw err
  }
  const m = /^\/ipfs\/([^/]+)$/.exec(path)
  if (!m) throw new NotFoundError(`/ipns/${name} points at ${path}, which is not /ipfs/<CID> of an image root`)
  return parseCid(m[1] as string)
}
