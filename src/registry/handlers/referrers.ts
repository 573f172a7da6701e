import { MediaType } from '../../oci/media-types.js'
import { jsonReply, type Handler } from '../handler.js'
import { parseRepository, parseRequestDigest } from '../names.js'

/**
 * `GET /v2/<name>/referrers/<digest>`: an IPFS-enabled image carries no referrers (ipfs-push drops
 * what is not the image), so the answer is the empty index the spec asks for rather than a 404,
 * which a client would take for "this registry has no referrers API" and fall back to tag schemes.
 */
export function referrersHandler(): Handler {
  return async (req) => {
    parseRepository(req.params.name as string, req.url.searchParams.get('ns'))
    parseRequestDigest(req.params.digest as string, 'MANIFEST_UNKNOWN')
    const filtered: Record<string, string> = req.url.searchParams.has('artifactType') ? { 'oci-filters-applied': 'artifactType' } : {}
    return jsonReply({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] }, filtered, MediaType.OciIndex)
  }
}
