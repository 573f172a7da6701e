/**
 * Every failure a user can cause or meet is an IpcrError: the CLI prints its message as one line
 * and exits with its exitCode. Anything else escaping to the top is a bug and prints a stack with --debug.
 */
export class IpcrError extends Error {
  readonly exitCode: number = 1
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** The user asked for something malformed: a bad flag value, reference or file. */
export class UsageError extends IpcrError {
  override readonly exitCode = 2
}

/** Something named by the user does not exist (an image, a CID, a layout tag). */
export class NotFoundError extends IpcrError {}

/** Bytes did not match the digest, size or CID that promised them. */
export class IntegrityError extends IpcrError {}

/** A daemon (containerd, kubo) could not be reached or failed mid-operation. */
export class UnavailableError extends IpcrError {}

/** Prefix an error's message with what we were doing, keeping its class (go-containerregistry style). */
export function withContext<T>(context: string, work: () => Promise<T>): Promise<T> {
  return work().catch((err: unknown) => {
    if (err instanceof IpcrError && !err.message.startsWith(context)) {
      err.message = `${context}: ${err.message}`
    }
    throw err
  })
}
