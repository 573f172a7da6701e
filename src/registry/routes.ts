import type { Handler } from './handler.js'

/** The routes, named as /metrics counts them. */
export type RouteName = 'base' | 'manifest' | 'blob' | 'upload' | 'tags' | 'referrers' | 'metrics' | 'healthz' | 'none'

export interface Route {
  name: RouteName
  pattern: RegExp
  /** Absent: no method is served yet (writes come in a later issue); every request is UNSUPPORTED. */
  handler?: Handler
}

/**
 * The spec's URL table (distribution-spec v1.1, "API"), in the order that matters: uploads sit under
 * blobs/, so they come first. A name has slashes in it, so it is whatever precedes the endpoint.
 */
export function routeTable(h: { base: Handler; manifests: Handler; blobs: Handler; tags: Handler; referrers: Handler; metrics: Handler; health: Handler }): Route[] {
  return [
    { name: 'base', pattern: /^\/v2\/?$/, handler: h.base },
    { name: 'upload', pattern: /^\/v2\/(?<name>.+)\/blobs\/uploads\/(?<id>[^/]*)$/ },
    { name: 'blob', pattern: /^\/v2\/(?<name>.+)\/blobs\/(?<digest>[^/]+)$/, handler: h.blobs },
    { name: 'manifest', pattern: /^\/v2\/(?<name>.+)\/manifests\/(?<reference>[^/]+)$/, handler: h.manifests },
    { name: 'tags', pattern: /^\/v2\/(?<name>.+)\/tags\/list$/, handler: h.tags },
    { name: 'referrers', pattern: /^\/v2\/(?<name>.+)\/referrers\/(?<digest>[^/]+)$/, handler: h.referrers },
    { name: 'metrics', pattern: /^\/metrics$/, handler: h.metrics },
    { name: 'healthz', pattern: /^\/healthz$/, handler: h.health },
  ]
}

export function matchRoute(routes: readonly Route[], pathname: string): { route: Route; params: Record<string, string> } | undefined {
  for (const route of routes) {
    const m = route.pattern.exec(pathname)
    if (m) return { route, params: { ...(m.groups ?? {}) } }
  }
  return undefined
}
