/**
 * Pass a stream through, failing with `onStall()` when no chunk arrives for `ms`. A peer that stops
 * sending (kubo's bitswap can stop asking a connected peer) would otherwise hang a pull forever.
 * On a stall the source is abandoned without awaiting its return(), which would wait on the very
 * read that stalled; closing the backend afterwards tears its connections down.
 */
export async function* failOnStall<T>(source: AsyncIterable<T>, ms: number, onStall: () => Error): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]()
  let stalled = false
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined
      const stall = new Promise<never>((_, reject) => {
        timer = setTimeout(() => { stalled = true; reject(onStall()) }, ms)
      })
      let r: IteratorResult<T>
      try {
        r = await Promise.race([it.next(), stall])
      } finally {
        clearTimeout(timer)
      }
      if (r.done === true) return
      yield r.value
    }
  } finally {
    if (stalled) void it.return?.(undefined)?.catch(() => undefined)
    else await it.return?.(undefined)
  }
}
