import type { Handler, Method } from './handler.js'

/** The routes, named as /metrics counts them. */
export type RouteName = 'base' | 'manifest' | 'blob' | 'upload' | 'tags' | 'referrers' | 'metrics' | 'healthz' | 'none'

/** A route's handlers by method; HEAD is served by GET's handler (the server drops the body). */
export type Methods = Partial<Record<Exclude<Method, 'HEAD'>, Handler>>

export interface Route {
  name: RouteName
  pattern: RegExp
  methods: Methods
}

/**
 * The spec's URL table (distribution-spec v1.1, "API"), in the order that matters: uploads sit under
 * blobs/, so they come first. A name has slashes in it, so it is whatever precedes the endpoint.
 */
export function routeTable(h: Record<Exclude<RouteName, 'none'>, Methods>): Route[] {
  return [
    { name: 'base', pattern: /^\/v2\/?$/, methods: h.base },
    { name: 'upload', pattern: /^\/v2\/(?<name>.+)\/blobs\/uploads\/(?<id>[^/]*)$/, methods: h.upload },
    { name: 'blob', pattern: /^\/v2\/(?<name>.+)\/blobs\/(?<digest>[^/]+)$/, methods: h.blob },
    { name: 'manifest', pattern: /^\/v2\/(?<name>.+)\/manifests\/(?<reference>[^/]+)$/, methods: h.manifest },
    { name: 'tags', pattern: /^\/v2\/(?<name>.+)\/tags\/list$/, methods: h.tags },
    { name: 'referrers', pattern: /^\/v2\/(?<name>.+)\/referrers\/(?<digest>[^/]+)$/, methods: h.referrers },
    { name: 'metrics', pattern: /^\/metrics$/, methods: h.metrics },
    { name: 'healthz', pattern: /^\/healthz$/, methods: h.healthz },
  ]
}

export function matchRoute(routes: readonly Route[], pathname: string): { route: Route; params: Record<string, string> } | undefined {
  for (const route of routes) {
    const m = route.pattern.exec(pathname)
    if (m) return { route, params: { ...(m.groups ?? {}) } }
  }
  return undefined
}

/** The methods a route answers, for a 405's Allow header. */
export function allowed(route: Route): string {
  const names = Object.keys(route.methods)
  return (names.includes('GET') ? ['GET', 'HEAD', ...names.filter((n) => n !== 'GET')] : names).join(', ')
}
