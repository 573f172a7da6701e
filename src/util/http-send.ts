import type { ServerResponse } from 'node:http'

/** How a response body ended: all of it handed to the connection, or the client went away first. */
export type SendOutcome = 'sent' | 'gone'

/** A response body: bytes in memory, a stream pulled chunk by chunk, or none (HEAD, 204, 304). */
export type ResponseBody = Uint8Array | AsyncIterable<Uint8Array> | undefined

/**
 * Send the body of a response whose status and headers the caller has set. Every response a server
 * of ours sends goes through here, because clients hang up whenever they like (a timeout, a cancelled
 * pull, a port scan) and that must cost the server nothing:
 * - a streamed body is pulled only as fast as the client reads (backpressure), so memory stays flat;
 * - when the client leaves, the producer is stopped (its return(): a generator's finally runs, a file
 *   stream closes) and this resolves 'gone', with no error raised and no promise left to reject;
 * - when the producer fails, the connection is cut, so that no client takes a truncated body for a
 *   whole one (status and headers are out already), and this rejects with the producer's error.
 */
export async function sendBody(res: ServerResponse, body: ResponseBody): Promise<SendOutcome> {
  const ended = outcome(res)
  if (body === undefined || body instanceof Uint8Array) {
    if (!res.destroyed) res.end(body)
    return ended
  }
  const it = body[Symbol.asyncIterator]()
  const orEnd = untilEnded(ended)
  let done = false
  try {
    for (;;) {
      if (res.destroyed) return await ended
      const next = it.next()
      const step = await orEnd(next)
      if (typeof step === 'string') {
        // The producer is still working on a chunk nobody wants: whatever it settles with goes nowhere.
        next.catch(() => undefined)
        return step
      }
      if (step.done === true) { done = true; break }
      if (!res.write(step.value)) await orEnd(drained(res))
    }
  } catch (err) {
    done = true // a failed producer has finished; there is nothing to stop
    res.destroy()
    throw err
  } finally {
    // return() waits for a pending next() to settle first, and may itself fail in the producer's cleanup;
    // neither may hold this response up or surface as an unhandled rejection.
    if (!done) it.return?.().catch(() => undefined)
  }
  if (!res.destroyed) res.end()
  return ended
}

/**
 * `orEnd(p)`: p's outcome, or the response's once it is over, whichever comes first. Not
 * Promise.race(p, ended) per chunk: every race leaves a reaction on `ended`, which settles only
 * when the response does, and that reaction holds the race's result, the chunk, so a streamed
 * blob stayed in memory whole until its response ended (a 1 GiB layer: 1.1 GiB peak RSS). Here
 * `ended` has one reaction, which wakes only the wait in progress.
 */
function untilEnded(ended: Promise<SendOutcome>): <T>(p: Promise<T>) => Promise<T | SendOutcome> {
  let over: SendOutcome | undefined
  let wake: ((o: SendOutcome) => void) | undefined
  void ended.then((o) => { over = o; wake?.(o) })
  return <T>(p: Promise<T>) => {
    if (over !== undefined) return Promise.resolve(over)
    return new Promise<T | SendOutcome>((resolve, reject) => {
      wake = resolve
      p.then(resolve, reject).finally(() => { if (wake === resolve) wake = undefined })
    })
  }
}

/** Settles once the response is over: 'sent' when all of it was flushed, 'gone' when the connection closed first. */
function outcome(res: ServerResponse): Promise<SendOutcome> {
  if (res.writableFinished) return Promise.resolve('sent')
  if (res.destroyed) return Promise.resolve('gone')
  return new Promise((resolve) => {
    const settle = (): void => resolve(res.writableFinished ? 'sent' : 'gone')
    res.once('finish', settle)
    res.once('close', settle)
    // A write racing the socket's end reports here: it is the client leaving, and must not go unhandled.
    res.on('error', settle)
  })
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => res.once('drain', resolve))
}
