import { defaultLimits } from '../../oci/limits.js'
import { RegistryError } from '../errors.js'
import { contentHeaders, emptyReply, header, type Handler } from '../handler.js'
import { parseManifestRef, parseRepository, parseTag, parseWritableRepository } from '../names.js'
import type { ManifestFinder, ManifestWriter } from '../roles.js'

/**
 * `GET|HEAD /v2/<name>/manifests/<tag|digest>`: the image's index or manifest exactly as its bytes
 * are kept (pushed here, or in IPFS and checked against its digest when the image was walked), so
 * the digest a client computes is the one every other pull of the image records.
 */
export function manifestsHandler(finder: ManifestFinder): Handler {
  return async (req) => {
    const repo = parseRepository(req.params.name as string, req.url.searchParams.get('ns'))
    const found = await finder.manifest(repo, parseManifestRef(req.params.reference as string))
    return {
      status: 200,
      headers: contentHeaders(found.desc.digest, found.desc.mediaType, found.manifest.byteLength),
      body: found.manifest,
    }
  }
}

/**
 * `PUT /v2/<name>/manifests/<tag|digest>`: 201 with the manifest's Location and digest, and
 * `OCI-Subject` when it names one (so the client knows the referrers API took it). A tag push
 * answers once its IPFS-enabled image is published; `Ipcr-Root-Cid` names that image's root. A push
 * by digest may tag it too with `?tag=T` parameters, each echoed in `OCI-Tag`.
 */
export function manifestPutHandler(writer: ManifestWriter, maxBytes = defaultLimits.manifestSize): Handler {
  return async (req) => {
    const repo = parseWritableRepository(req.params.name as string, req.url.searchParams.get('ns'))
    const ref = parseManifestRef(req.params.reference as string)
    const tagParams = req.url.searchParams.getAll('tag').map((t) => parseTag(t))
    const bytes = await readCapped(req.body, maxBytes)
    const put = await writer.put(repo, ref, header(req, 'content-type'), bytes, tagParams)
    return emptyReply(201, {
      location: `/v2/${repo}/manifests/${put.digest}`,
      'docker-content-digest': put.digest,
      ...(put.subject ? { 'oci-subject': put.subject } : {}),
      ...(tagParams.length > 0 ? { 'oci-tag': put.tags.join(', ') } : {}),
      ...(put.published ? { 'ipcr-root-cid': put.published.root } : {}),
    })
  }
}

/** `DELETE /v2/<name>/manifests/<tag|digest>`: 202; a tag is untagged, a digest goes with its tags. */
export function manifestDeleteHandler(writer: ManifestWriter): Handler {
  return async (req) => {
    const repo = parseWritableRepository(req.params.name as string, req.url.searchParams.get('ns'))
    await writer.delete(repo, parseManifestRef(req.params.reference as string))
    return emptyReply(202)
  }
}

/** A manifest body, refused as soon as it outgrows what ipcr would pull (--max-manifest-size). */
async function readCapped(body: AsyncIterable<Uint8Array>, max: number): Promise<Buffer> {
  const parts: Uint8Array[] = []
  let seen = 0
  for await (const chunk of body) {
    seen += chunk.byteLength
    if (seen > max) throw new RegistryError('SIZE_INVALID', `the manifest is larger than ${max} bytes (the server's --max-manifest-size)`)
    parts.push(chunk)
  }
  return Buffer.concat(parts)
}
