import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { UnavailableError } from '../errors.js'
import type { IpfsBackend } from './backend.js'
import { EmbeddedIpfs, ipcrRoot } from './embedded.js'
import { KuboClient } from './kubo.js'
import { gatewayUrl, KuboGateway } from './kubo-gateway.js'
import { apiUrl } from './multiaddr.js'

export interface IpfsSelection {
  /** --ipfs-api: a multiaddr or URL. When given, kubo must answer there. */
  api?: string | undefined
  env?: NodeJS.ProcessEnv
  /** Told when kubo's gateway turns out unusable and reads go back to its RPC API (for stderr). */
  notify?: (message: string) => void
}

/** What a kubo repo says about its running daemon: the API address and, if it serves one, its gateway URL. */
export interface RepoDaemon { file: string; address: string; gateway?: string }

/**
 * `$IPFS_PATH/api`, else `~/.ipfs/api`, as ctr-remote and the kubo CLI look for it, and the
 * `gateway` file the daemon writes beside it (kubo-gateway.ts says why reads go there).
 */
export async function apiFromRepo(env: NodeJS.ProcessEnv = process.env): Promise<RepoDaemon | undefined> {
  const repo = env.IPFS_PATH ?? join(homedir(), '.ipfs')
  const file = join(repo, 'api')
  const [address, gateway] = await Promise.all(['api', 'gateway'].map((name) => readFile(join(repo, name), 'utf8').then((s) => s.trim(), () => undefined)))
  if (!address) return undefined
  let url: string | undefined
  try {
    url = gateway ? gatewayUrl(gateway) : undefined
  } catch {
    url = undefined // an unreadable gateway file only costs speed: reads use the RPC
  }
  return url ? { file, address, gateway: url } : { file, address }
}

/** A client for the daemon at `api`, reading through `gateway` when there is one. */
function kuboClient(api: string, gateway: string | undefined, notify: ((message: string) => void) | undefined): KuboClient {
  return new KuboClient(apiUrl(api), gateway === undefined ? undefined : new KuboGateway(gateway, notify))
}

function viaGateway(kubo: KuboClient): string {
  return kubo.gateway ? `, reading blobs through its gateway ${kubo.gateway.url}` : ''
}

/**
 * kubo when one answers, else the embedded store. The api file outlives a crashed daemon, so its
 * presence proves nothing: we probe `version`. `note` says why the choice was made, for stderr.
 */
export async function openIpfs(sel: IpfsSelection = {}): Promise<{ backend: IpfsBackend; note: string }> {
  const env = sel.env ?? process.env
  if (sel.api !== undefined && sel.api !== '') {
    // The repo's gateway file describes this daemon only when the repo's api file names it too.
    const repo = await apiFromRepo(env)
    const same = repo !== undefined && safeApiUrl(repo.address) === apiUrl(sel.api)
    const kubo = kuboClient(sel.api, same ? repo.gateway : undefined, sel.notify)
    try {
      const v = await kubo.version()
      return { backend: kubo, note: `using kubo ${v} at ${kubo.baseUrl}${viaGateway(kubo)}` }
    } catch (err) {
      await kubo.close()
      throw new UnavailableError(`kubo did not answer at ${sel.api} (from --ipfs-api): ${(err as Error).message}`)
    }
  }
  const repo = await apiFromRepo(env)
  const embedded = new EmbeddedIpfs(ipcrRoot(env))
  if (repo) {
    const kubo = kuboClient(repo.address, repo.gateway, sel.notify)
    try {
      const v = await kubo.version()
      return { backend: kubo, note: `using kubo ${v} at ${kubo.baseUrl} (from ${repo.file})${viaGateway(kubo)}` }
    } catch {
      await kubo.close()
      return { backend: embedded, note: `kubo at ${repo.address} (from ${repo.file}) did not answer; using the ${embedded.description}` }
    }
  }
  return { backend: embedded, note: `no kubo API file found; using the ${embedded.description}` }
}

function safeApiUrl(address: string): string | undefined {
  try {
    return apiUrl(address)
  } catch {
    return undefined
  }
}
