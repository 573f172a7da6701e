import type { Digest } from '../../oci/digest.js'
import { RegistryError } from '../errors.js'
import { emptyReply, header, type Handler, type Reply } from '../handler.js'
import { parseRequestDigest, parseWritableRepository } from '../names.js'
import type { BlobKeeper, BlobUploads } from '../roles.js'
import { rangeHeader, type UploadSession } from '../storage/uploads.js'

/**
 * The upload endpoints (distribution-spec "Pushing blobs"), one session state machine:
 * - `POST /v2/<name>/blobs/uploads/`: a new session (202 with its Location), or the whole blob at
 *   once with `?digest=` (201), or a cross-repository mount with `?mount=&from=` (201, or a new
 *   session when `from` does not hold the blob, as the spec allows; without `from`, any blob kept here);
 * - `PATCH …/uploads/<id>`: a chunk, in order (`Content-Range: start-end`, else 416);
 * - `PUT …/uploads/<id>?digest=`: the last chunk if any, then the commit, which keeps the blob only
 *   if the bytes hash to the digest (DIGEST_INVALID otherwise, and the session is gone), answered
 *   once the bytes are sealed, with the blob's IPFS add still running;
 * - `GET …/uploads/<id>`: where the session stands (204, `Range: 0-<last byte>`);
 * - `DELETE …/uploads/<id>`: cancel (204).
 */
export function uploadHandlers(uploads: BlobUploads, blobs: BlobKeeper): { POST: Handler; PATCH: Handler; PUT: Handler; GET: Handler; DELETE: Handler } {
  const repoOf = (req: Parameters<Handler>[0]): string => parseWritableRepository(req.params.name as string, req.url.searchParams.get('ns'))
  const sessionOf = async (req: Parameters<Handler>[0]): Promise<{ repo: string; session: UploadSession }> => {
    const repo = repoOf(req)
    return { repo, session: await uploads.get(repo, req.params.id as string) }
  }
  const commit = async (repo: string, session: UploadSession, digestParam: string | null): Promise<Reply> => {
    if (digestParam === null) throw new RegistryError('DIGEST_INVALID', 'the request that ends an upload names the blob: ?digest=sha256:<hex>')
    const digest = parseDigestParam(digestParam)
    const actual = await uploads.digest(session)
    if (actual !== digest) {
      await uploads.remove(session.id)
      throw new RegistryError('DIGEST_INVALID', `the ${session.offset} bytes uploaded hash to ${actual}, not ${digest}; nothing was kept`)
    }
    // Answered once sealed; the IPFS add runs on behind the answer (PushedBlobs.accept says why).
    await uploads.seal(session, digest)
    blobs.accept(repo, digest, session.offset, () => uploads.bytes(session), () => uploads.remove(session.id))
    return created(repo, digest)
  }

  return {
    POST: async (req) => {
      const repo = repoOf(req)
      const mount = req.url.searchParams.get('mount')
      const from = req.url.searchParams.get('from')
      if (mount !== null) {
        // Without `from`, any blob this registry keeps may be mounted (the spec's automatic mount):
        // every repository here is readable by anyone, so this reveals nothing a GET would not.
        const digest = parseDigestParam(mount)
        if (await blobs.mount(repo, from === null ? undefined : parseWritableRepository(from, null), digest)) return created(repo, digest)
      }
      const session = await uploads.start(repo)
      const digest = req.url.searchParams.get('digest')
      if (digest === null) return progress(202, repo, session)
      try {
        return await commit(repo, await uploads.append(session, req.body, declaredLength(req)), digest)
      } catch (err) {
        // A single-request upload has no session a client could resume: whatever failed, it goes.
        await uploads.remove(session.id)
        throw err
      }
    },
    PATCH: async (req) => {
      const { repo, session } = await sessionOf(req)
      const span = contentRange(header(req, 'content-range'))
      const length = declaredLength(req).length
      if (span && length !== undefined && span.end - span.start + 1 !== length) {
        throw new RegistryError('SIZE_INVALID', `Content-Range ${span.start}-${span.end} is ${span.end - span.start + 1} bytes, Content-Length ${length}`)
      }
      const next = await uploads.append(session, req.body, { ...(span ? { start: span.start, length: span.end - span.start + 1 } : {}), ...(length !== undefined ? { length } : {}) })
      return progress(202, repo, next)
    },
    PUT: async (req) => {
      const { repo, session } = await sessionOf(req)
      const span = contentRange(header(req, 'content-range'))
      const next = await uploads.append(session, req.body, { ...(span ? { start: span.start } : {}), ...declaredLength(req) })
      return commit(repo, next, req.url.searchParams.get('digest'))
    },
    GET: async (req) => {
      const { repo, session } = await sessionOf(req)
      return progress(204, repo, session)
    },
    DELETE: async (req) => {
      const { session } = await sessionOf(req)
      await uploads.remove(session.id)
      return emptyReply(204)
    },
  }
}

function created(repo: string, digest: Digest): Reply {
  return emptyReply(201, { location: `/v2/${repo}/blobs/${digest}`, 'docker-content-digest': digest })
}

function progress(status: number, repo: string, session: UploadSession): Reply {
  return emptyReply(status, {
    location: `/v2/${repo}/blobs/uploads/${session.id}`,
    range: rangeHeader(session.offset),
    'docker-upload-uuid': session.id,
  })
}

/** A digest a client names for its upload: only sha256 is kept (IPFS-enabled images use no other). */
function parseDigestParam(text: string): Digest {
  try {
    return parseRequestDigest(text, 'BLOB_UNKNOWN')
  } catch (err) {
    if (err instanceof RegistryError && err.code === 'BLOB_UNKNOWN') throw new RegistryError('DIGEST_INVALID', `${text.slice(0, 80)}: this registry keeps sha256 digests only`)
    throw err
  }
}

/** `Content-Range: <start>-<end>` (inclusive), as the spec writes it for upload chunks; a `bytes ` prefix is tolerated. */
function contentRange(value: string | undefined): { start: number; end: number } | undefined {
  if (value === undefined) return undefined
  const m = /^(?:bytes )?(\d{1,15})-(\d{1,15})$/.exec(value.trim())
  if (!m) throw new RegistryError('RANGE_INVALID', `Content-Range "${value.slice(0, 80)}": expected <start>-<end>`)
  const start = Number(m[1])
  const end = Number(m[2])
  if (end < start) throw new RegistryError('RANGE_INVALID', `Content-Range ${start}-${end} ends before it starts`)
  return { start, end }
}

function declaredLength(req: Parameters<Handler>[0]): { length?: number } {
  const v = header(req, 'content-length')
  return v !== undefined && /^\d+$/.test(v) ? { length: Number(v) } : {}
}
