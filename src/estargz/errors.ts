import { IntegrityError, IpcrError } from '../errors.js'

/** The blob is not a well-formed eStargz (no footer, a TOC that does not parse, offsets outside the blob). */
export class EstargzFormatError extends IntegrityError {}

/** A gzip (or other) blob without an eStargz footer: an ordinary layer, not eStargz. */
export class NotEstargzError extends EstargzFormatError {}

/** The blob starts like an eStargz but its end is missing. */
export class TruncatedBlobError extends EstargzFormatError {}

/** The TOC JSON does not hash to the digest the manifest annotation promised. */
export class TocDigestMismatchError extends IntegrityError {}

/** A chunk (or a whole file) decompressed to bytes that do not match its TOC digest. */
export class ChunkDigestMismatchError extends IntegrityError {
  constructor(
    message: string,
    readonly file: string,
    readonly chunkOffset: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }
}

/** The layer handed to the writer is not a tar we can convert (not a tar, truncated, corrupt gzip). */
export class InvalidLayerError extends IpcrError {}

/** A tar entry type eStargz cannot carry (the Go writer refuses the same ones). */
export class UnsupportedTarEntryError extends InvalidLayerError {}
