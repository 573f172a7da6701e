/** Run at most `n` async tasks at once; the rest wait their turn in order. */
export function limit(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0
  const queue: Array<() => void> = []
  const next = (): void => {
    active--
    queue.shift()?.()
  }
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r))
    active++
    try {
      return await task()
    } finally {
      next()
    }
  }
}
