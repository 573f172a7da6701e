import { UsageError } from '../errors.js'

/**
 * kubo's API address as an HTTP base URL. Accepts a URL or the multiaddr kubo writes to `$IPFS_PATH/api`
 * (`/ip4/127.0.0.1/tcp/5001`, `/ip6/::1/tcp/5001`, `/dns4/host/tcp/5001`, optionally ending in `/http`).
 * IPFS Cluster's REST API is named the same ways (`ipfs-cluster-ctl --host /ip4/…/tcp/9094`).
 */
export function apiUrl(address: string, what = 'IPFS API', example = '/ip4/127.0.0.1/tcp/5001'): string {
  const text = address.trim()
  if (/^https?:\/\//.test(text)) return text.replace(/\/+$/, '')
  const parts = text.split('/')
  const [empty, proto, host, tcp, port, ...rest] = parts
  const validProto = proto === 'ip4' || proto === 'ip6' || proto === 'dns' || proto === 'dns4' || proto === 'dns6'
  if (empty !== '' || !validProto || host === undefined || tcp !== 'tcp' || port === undefined || !/^\d+$/.test(port) ||
      (rest.length > 0 && !(rest.length === 1 && (rest[0] === 'http' || rest[0] === 'https')))) {
    throw new UsageError(`cannot use ${what} address "${text}": expected a URL or a multiaddr like ${example}`)
  }
  const scheme = rest[0] === 'https' ? 'https' : 'http'
  return `${scheme}://${proto === 'ip6' ? `[${host}]` : host}:${port}`
}
