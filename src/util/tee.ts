/**
 * Split one async stream into two readers that see every chunk, for hashing and uploading the same
 * bytes in one pass. The faster reader waits once it is `maxLag` chunks ahead, so memory stays bounded
 * by the slower one; either reader stopping early (or cancel()) stops the pair.
 */
export function tee<T>(source: AsyncIterable<T>, maxLag = 8): { branches: [AsyncGenerator<T>, AsyncGenerator<T>]; cancel(reason: unknown): void } {
  const it = source[Symbol.asyncIterator]()
  const queues: [T[], T[]] = [[], []]
  const finished = [false, false]
  let ended = false
  let failure: { reason: unknown } | undefined
  let pulling: Promise<void> | undefined
  let waiters: Array<() => void> = []
  const wake = (): void => { const w = waiters; waiters = []; for (const f of w) f() }

  const pull = (): Promise<void> => {
    pulling ??= it.next().then(
      (r) => { if (r.done === true) ended = true; else for (const i of [0, 1] as const) if (!finished[i]) queues[i].push(r.value) },
      (reason: unknown) => { failure ??= { reason }; ended = true },
    ).finally(() => { pulling = undefined; wake() })
    return pulling
  }

  async function* branch(i: 0 | 1): AsyncGenerator<T> {
    const other = i === 0 ? 1 : 0
    try {
      for (;;) {
        if (failure) throw failure.reason
        const next = queues[i].shift()
        if (next !== undefined) { wake(); yield next; continue }
        if (ended) return
        if (!finished[other] && queues[other].length >= maxLag) { await new Promise<void>((r) => waiters.push(r)); continue }
        await pull()
      }
    } finally {
      finished[i] = true
      queues[i] = []
      wake()
      if (finished[other] && !ended) { ended = true; await it.return?.() }
    }
  }
  return {
    branches: [branch(0), branch(1)],
    cancel(reason: unknown) { failure ??= { reason }; wake() },
  }
}
