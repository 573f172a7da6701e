import { resolve } from 'node:path'
import { UsageError } from '../errors.js'

export const defaultAddress = '/run/containerd/containerd.sock'
export const defaultNamespace = 'default'

/** The socket path of `/path`, `unix:///path` or `unix:path`, as ctr accepts them; containerd serves no TCP. */
export function socketPathOf(address: string): string {
  const path = address.replace(/^unix:(\/\/)?/, '')
  if (path === '' || /^[a-z][a-z0-9+.-]*:/i.test(path)) {
    throw new UsageError(`invalid containerd address "${address}": expected a unix socket path such as ${defaultAddress}`)
  }
  return resolve(path)
}

/** The socket and namespace to use: the given ones, else CONTAINERD_ADDRESS / CONTAINERD_NAMESPACE, else ctr's defaults. */
export function resolveTarget(
  given: { address?: string | undefined; namespace?: string | undefined },
  env: Readonly<Record<string, string | undefined>> = process.env,
): { socketPath: string; namespace: string } {
  const address = given.address || env.CONTAINERD_ADDRESS || defaultAddress
  const namespace = given.namespace || env.CONTAINERD_NAMESPACE || defaultNamespace
  return { socketPath: socketPathOf(address), namespace }
}
