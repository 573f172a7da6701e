import { MediaType } from '../../oci/media-types.js'
import { jsonReply, type Handler } from '../handler.js'
import { parseRepository, parseRequestDigest } from '../names.js'
import type { ReferrerLister } from '../roles.js'

/**
 * `GET /v2/<name>/referrers/<digest>[?artifactType=T]`: the manifests pushed with this subject, as
 * an index (empty where there are none, never a 404, which a client would take for "no referrers
 * API" and fall back to tag schemes). An IPFS-enabled image carries no referrers: ipfs-push keeps
 * only the image. With `artifactType`, only matching ones, and `OCI-Filters-Applied` says so.
 */
export function referrersHandler(lister: ReferrerLister): Handler {
  return async (req) => {
    const repo = parseRepository(req.params.name as string, req.url.searchParams.get('ns'))
    const subject = parseRequestDigest(req.params.digest as string, 'MANIFEST_UNKNOWN')
    const artifactType = req.url.searchParams.get('artifactType')
    const all = await lister.referrers(repo, subject)
    const manifests = artifactType === null ? all : all.filter((d) => d.artifactType === artifactType)
    const filtered: Record<string, string> = artifactType !== null ? { 'oci-filters-applied': 'artifactType' } : {}
    return jsonReply({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests }, filtered, MediaType.OciIndex)
  }
}
