import type http from 'node:http'
import { IpcrError } from '../errors.js'

/**
 * A response body as chunks, failing with `unreachable(...)` when the connection breaks or the body
 * ends before the length it announced (node:http reports that only through `complete`).
 */
export async function* guardBody(res: http.IncomingMessage, unreachable: (e: Error) => Error): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of res) yield chunk as Buffer
  } catch (err) {
    throw err instanceof IpcrError ? err : unreachable(err as Error)
  }
  if (!res.complete) throw unreachable(new Error('reply ended early'))
}
