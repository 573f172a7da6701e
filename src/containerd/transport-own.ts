import { connect } from 'node:net'
import { H2Session } from './h2/session.js'
import type { OpenTransport, Transport } from './transport.js'

/** Our own HTTP/2 client (h2/) on a unix socket: nothing to load beyond node:net. */
export const openOwnTransport: OpenTransport = async (socketPath, options) => {
  options.signal?.throwIfAborted()
  const socket = connect({ path: socketPath })
  const session = new H2Session(socket, { streamWindow: options.streamWindow, connectionWindow: options.connectionWindow })
  const { signal } = options
  let onAbort: (() => void) | undefined
  try {
    await new Promise<void>((resolve, reject) => {
      onAbort = () => reject(signal?.reason)
      signal?.addEventListener('abort', onAbort, { once: true })
      session.ready.then(resolve, reject)
    })
  } catch (err) {
    socket.destroy()
    throw err
  } finally {
    if (onAbort) signal?.removeEventListener('abort', onAbort)
  }
  return session satisfies Transport
}
