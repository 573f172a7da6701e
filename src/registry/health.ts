import type { IpfsBackend } from '../ipfs/backend.js'
import type { HealthProbe } from './roles.js'

/**
 * Whether the IPFS backend answers: a daemon (kubo) is asked its version; a backend that lives in
 * this process (the embedded store) has nothing to ask, and its failures show on each request.
 */
export function backendHealth(ipfs: IpfsBackend): HealthProbe {
  const probe = (ipfs as Partial<{ version(timeoutMs?: number): Promise<string> }>).version
  return {
    healthy: async () => probe === undefined ? true : probe.call(ipfs, 2000).then(() => true, () => false),
  }
}
