/** gRPC status codes (grpc's doc/statuscodes.md); the numbers are the wire contract. */
export const GrpcCode = {
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
} as const

export type GrpcCodeName = keyof typeof GrpcCode

const names = new Map<number, GrpcCodeName>(Object.entries(GrpcCode).map(([k, v]) => [v, k as GrpcCodeName]))

/** "NOT_FOUND" for 5; the number itself for a code this table does not know. */
export function grpcCodeName(code: number): string {
  return names.get(code) ?? String(code)
}

/**
 * A call that ended with a status other than OK: the server's code and message (`details`,
 * containerd's own text such as `image "x": not found`). errors.ts maps it to the kinds callers branch on.
 */
export class GrpcStatusError extends Error {
  constructor(readonly code: number, readonly details: string) {
    super(`${code} ${grpcCodeName(code)}: ${details}`)
    this.name = 'GrpcStatusError'
  }
}

/** The gRPC code for an HTTP status that came without one (a proxy, or not a gRPC server at all). */
export function codeOfHttpStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400: return GrpcCode.INTERNAL
    case 401: return GrpcCode.UNAUTHENTICATED
    case 403: return GrpcCode.PERMISSION_DENIED
    case 404: return GrpcCode.UNIMPLEMENTED
    case 429: case 502: case 503: case 504: return GrpcCode.UNAVAILABLE
    default: return GrpcCode.UNKNOWN
  }
}
