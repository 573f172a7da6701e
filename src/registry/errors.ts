/**
 * Every error a registry client can see, registered once: its code (the OCI distribution spec's, or
 * CNCF distribution's where the spec names none), the fixed message, and the HTTP status. Handlers
 * throw a RegistryError naming one of these; only server.ts turns it into a response body, always
 * `{"errors":[{"code","message","detail"}]}`, so no handler builds a body of its own.
 */
export const ErrorCodes = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 404, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  // 405: the status CNCF distribution gives UNSUPPORTED for a method a read-only registry refuses.
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  // Not in the spec's table; CNCF distribution registers these (errcode and v2/errors.go).
  RANGE_INVALID: { status: 416, message: 'invalid content range' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  UNKNOWN: { status: 500, message: 'unknown error' },
} as const satisfies Record<string, { status: number; message: string }>

export type ErrorCode = keyof typeof ErrorCodes

/** What a handler throws for the client to see; `detail` is for the client too, so it never names local paths. */
export class RegistryError extends Error {
  constructor(readonly code: ErrorCode, readonly detail?: string | Record<string, string>, readonly headers: Record<string, string> = {}) {
    super(`${code}: ${typeof detail === 'string' ? detail : JSON.stringify(detail ?? ErrorCodes[code].message)}`)
    this.name = 'RegistryError'
  }

  get status(): number {
    return ErrorCodes[this.code].status
  }

  /** The spec's error body. */
  body(): string {
    const { message } = ErrorCodes[this.code]
    return JSON.stringify({ errors: [{ code: this.code, message, detail: this.detail ?? null }] })
  }
}
