import { IpcrError, NotFoundError, UnavailableError } from '../errors.js'
import { GrpcCode, grpcCodeName, GrpcStatusError } from './grpc-status.js'

/** containerd already holds it: a blob, an image name, a lease id, a snapshot (remote layer mounted). */
export class AlreadyExistsError extends IpcrError {}

/** Any other refusal from containerd; `code` is the gRPC status name, e.g. "FAILED_PRECONDITION". */
export class ContainerdError extends IpcrError {
  constructor(message: string, readonly code: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

export const addressHint = '(is containerd running? set --address or CONTAINERD_ADDRESS)'

/** The error for a socket we cannot talk to; `reason` says why (no such file, refused, timeout). */
export function unreachable(socketPath: string, reason: string, cause?: unknown): UnavailableError {
  return new UnavailableError(`cannot reach containerd at ${socketPath}: ${reason} ${addressHint}`, { cause })
}

/**
 * Map a gRPC failure to the error kind callers branch on; anything else passes through unchanged.
 * containerd's own messages (`details`) are kept as they are, e.g. `image "x": not found`.
 */
export function fromGrpcError(err: unknown, socketPath: string): unknown {
  if (!(err instanceof GrpcStatusError)) return err
  const details = err.details || err.message
  switch (err.code) {
    case GrpcCode.NOT_FOUND:
      return new NotFoundError(details, { cause: err })
    case GrpcCode.ALREADY_EXISTS:
      return new AlreadyExistsError(details, { cause: err })
    case GrpcCode.UNAVAILABLE:
      // containerd itself answers UNAVAILABLE for an ingest another writer holds ("ref ... locked").
      return / locked for /.test(details) ? new UnavailableError(details, { cause: err }) : unreachable(socketPath, details, err)
    case GrpcCode.DEADLINE_EXCEEDED:
      return new UnavailableError(`containerd at ${socketPath} did not answer in time: ${details}`, { cause: err })
    default:
      return new ContainerdError(details, grpcCodeName(err.code), { cause: err })
  }
}
