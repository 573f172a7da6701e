import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { UnavailableError } from '../errors.js'
import type { IpfsBackend } from './backend.js'
import { EmbeddedIpfs, ipcrRoot } from './embedded.js'
import { KuboClient } from './kubo.js'
import { apiUrl } from './multiaddr.js'

export interface IpfsSelection {
  /** --ipfs-api: a multiaddr or URL. When given, kubo must answer there. */
  api?: string | undefined
  env?: NodeJS.ProcessEnv
}

/** `$IPFS_PATH/api`, else `~/.ipfs/api`, as ctr-remote and the kubo CLI look for it. */
export async function apiFromRepo(env: NodeJS.ProcessEnv = process.env): Promise<{ file: string; address: string } | undefined> {
  const repo = env.IPFS_PATH ?? join(homedir(), '.ipfs')
  const file = join(repo, 'api')
  const address = await readFile(file, 'utf8').then((s) => s.trim(), () => undefined)
  return address ? { file, address } : undefined
}

/**
 * kubo when one answers, else the embedded store. The api file outlives a crashed daemon, so its
 * presence proves nothing: we probe `version`. `note` says why the choice was made, for stderr.
 */
export async function openIpfs(sel: IpfsSelection = {}): Promise<{ backend: IpfsBackend; note: string }> {
  const env = sel.env ?? process.env
  if (sel.api !== undefined && sel.api !== '') {
    const kubo = new KuboClient(apiUrl(sel.api))
    try {
      const v = await kubo.version()
      return { backend: kubo, note: `using kubo ${v} at ${kubo.baseUrl}` }
    } catch (err) {
      await kubo.close()
      throw new UnavailableError(`kubo did not answer at ${sel.api} (from --ipfs-api): ${(err as Error).message}`)
    }
  }
  const repo = await apiFromRepo(env)
  const embedded = new EmbeddedIpfs(ipcrRoot(env))
  if (repo) {
    const kubo = new KuboClient(apiUrl(repo.address))
    try {
      const v = await kubo.version()
      return { backend: kubo, note: `using kubo ${v} at ${kubo.baseUrl} (from ${repo.file})` }
    } catch {
      await kubo.close()
      return { backend: embedded, note: `kubo at ${repo.address} (from ${repo.file}) did not answer; using the ${embedded.description}` }
    }
  }
  return { backend: embedded, note: `no kubo API file found; using the ${embedded.description}` }
}
