/** How often and how patiently a request is tried again. */
export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number
  /** The wait before the first retry; it doubles each time. */
  baseMs: number
  /** No wait is longer than this, whatever Retry-After asks. */
  maxMs: number
}

export const defaultRetryPolicy: Readonly<RetryPolicy> = { attempts: 5, baseMs: 500, maxMs: 30_000 }

/**
 * 429 (slow down) and 5xx (the registry or a proxy in front of it is struggling) may succeed later.
 * Every other 4xx is an answer about the request itself (not found, denied, invalid) that asking
 * again cannot change. 501 and 505 say the server does not do what we asked at all.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505)
}

/** Connections cut or stalled mid-request; a refused connection is an answer (nothing listens) and is not retried. */
const retryableCodes = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EAI_AGAIN', 'UND_ERR_SOCKET'])

export function isRetryableError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  return typeof code === 'string' && retryableCodes.has(code)
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/**
 * The wait before try number `attempt + 1` (attempt counts from 1), or undefined when the tries are
 * used up. Exponential backoff, unless the server said how long to wait; capped either way.
 */
export function retryDelay(attempt: number, policy: RetryPolicy, retryAfterMs?: number): number | undefined {
  if (attempt >= policy.attempts) return undefined
  const backoff = policy.baseMs * 2 ** (attempt - 1)
  return Math.min(policy.maxMs, retryAfterMs ?? backoff)
}

/** Wait, unless the signal aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return }
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
