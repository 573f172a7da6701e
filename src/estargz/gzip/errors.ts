import { IpcrError } from '../../errors.js'

/** A gzip level outside Go's range [-2, 9]. */
export class GzipLevelError extends IpcrError {
  constructor(readonly level: number) {
    super(`gzip level must be an integer from -2 to 9, not ${level}`)
  }
}

/** Bytes written to a member after it was closed: a bug in the caller. */
export class GzipClosedError extends IpcrError {
  constructor() {
    super('gzip member written after close')
  }
}
