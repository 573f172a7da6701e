import { contentHeaders, type Handler } from '../handler.js'
import { parseManifestRef, parseRepository } from '../names.js'
import type { ManifestFinder } from '../roles.js'

/**
 * `GET|HEAD /v2/<name>/manifests/<tag|digest>`: the image's index or manifest exactly as its bytes
 * are in IPFS (checked against its digest when the image was walked), so the digest a client
 * computes is the one every other ipcr pull of the image records.
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
