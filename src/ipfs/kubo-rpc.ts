import type http from 'node:http'
import { randomBytes } from 'node:crypto'
import { IpcrError } from '../errors.js'
import { readAll } from '../oci/digest.js'

/** kubo answered, but with an error of its own (bad argument, block not found, ...). */
export class KuboError extends IpcrError {}

/** One reply of kubo's RPC API. */
export interface KuboReply { status: number; headers: http.IncomingHttpHeaders; body: AsyncIterable<Uint8Array>; trailers(): http.IncomingHttpHeaders }

/** A streamed multipart/form-data body holding one file, as kubo's commands that take a file expect. */
export function multipartFile(bytes: AsyncIterable<Uint8Array>, filename = 'blob'): { body: AsyncIterable<Uint8Array>; contentType: string } {
  const boundary = `ipcr-${randomBytes(12).toString('hex')}`
  async function* body(): AsyncGenerator<Uint8Array> {
    yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`)
    yield* bytes
    yield Buffer.from(`\r\n--${boundary}--\r\n`)
  }
  return { body: body(), contentType: `multipart/form-data; boundary=${boundary}` }
}

/** The whole reply of a non-streaming command, parsed as JSON. */
export async function replyJson<T>(reply: KuboReply): Promise<T> {
  return JSON.parse((await readAll(reply.body)).toString('utf8')) as T
}

