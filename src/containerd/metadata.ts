import { Metadata } from '@grpc/grpc-js'

/** What every call says about where it works: containerd's namespace and, optionally, the lease holding its results. */
export interface CallScope {
  readonly namespace: string
  readonly lease?: string | undefined
}

export const namespaceHeader = 'containerd-namespace'
export const leaseHeader = 'containerd-lease'

export function scopeMetadata(scope: CallScope): Metadata {
  const md = new Metadata()
  md.set(namespaceHeader, scope.namespace)
  if (scope.lease !== undefined) md.set(leaseHeader, scope.lease)
  return md
}
