/** What every call says about where it works: containerd's namespace and, optionally, the lease holding its results. */
export interface CallScope {
  readonly namespace: string
  readonly lease?: string | undefined
}

export const namespaceHeader = 'containerd-namespace'
export const leaseHeader = 'containerd-lease'

/** The call's gRPC metadata, as the HTTP/2 headers it travels in. */
export function scopeHeaders(scope: CallScope): Record<string, string> {
  return scope.lease === undefined
    ? { [namespaceHeader]: scope.namespace }
    : { [namespaceHeader]: scope.namespace, [leaseHeader]: scope.lease }
}
