import { jsonReply, type Handler } from '../handler.js'
import { parseRepository } from '../names.js'
import type { TagLister } from '../roles.js'

/**
 * `GET /v2/<name>/tags/list[?n=N&last=TAG]`: tags in lexical order; `last` starts after that tag,
 * `n` caps the page, and a capped page that left tags out links the next one (`Link: rel="next"`).
 */
export function tagsHandler(lister: TagLister): Handler {
  return async (req) => {
    const name = req.params.name as string
    const repo = parseRepository(name, req.url.searchParams.get('ns'))
    const last = req.url.searchParams.get('last')
    const nText = req.url.searchParams.get('n')
    const n = nText !== null && /^\d{1,9}$/.test(nText) ? Number(nText) : undefined
    const after = (await lister.tags(repo)).filter((t) => last === null || t > last)
    const page = n === undefined ? after : after.slice(0, n)
    const headers: Record<string, string> = {}
    if (n !== undefined && n > 0 && page.length < after.length) {
      const next = new URLSearchParams({ n: String(n), last: page[page.length - 1] as string })
      const ns = req.url.searchParams.get('ns')
      if (ns !== null) next.set('ns', ns)
      headers.link = `</v2/${name}/tags/list?${next.toString()}>; rel="next"`
    }
    return jsonReply({ name, tags: page }, headers)
  }
}
