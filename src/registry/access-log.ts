/** One request, as the access log records it. */
export interface AccessEntry {
  time: string
  remote: string
  method: string
  url: string
  route: string
  status: number
  bytes: number
  ms: number
  /** 'sent': the whole response went out; 'gone': the client left first; 'cut': the server cut it (a failed body). */
  outcome: 'sent' | 'gone' | 'cut'
  /** The error code a client was told, when it was told one. */
  code?: string
  /** What went wrong, for the operator (may name local paths: it never goes to a client). */
  error?: string
}

export type LogFormat = 'text' | 'json'

/** A line per request: `text` for people, `json` (one object per line) for log shippers. */
export function formatAccess(e: AccessEntry, format: LogFormat): string {
  if (format === 'json') return JSON.stringify(e)
  const note = e.outcome === 'gone' ? ' (the client went away)' : e.outcome === 'cut' ? ' (cut short)' : ''
  const why = e.code !== undefined || e.error !== undefined ? ` ${[e.code, e.error].filter((x) => x !== undefined).join(': ')}` : ''
  return `${e.time} ${e.remote} "${e.method} ${e.url}" ${e.status} ${e.bytes} ${e.ms}ms${note}${why}`
}
