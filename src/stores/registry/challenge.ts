/** One challenge of a `WWW-Authenticate` header (RFC 7235): a scheme and its parameters. */
export interface Challenge {
  /** Lower case: `bearer`, `basic`. */
  scheme: string
  /** Parameter names in lower case (`realm`, `service`, `scope`), values unquoted. */
  params: Record<string, string>
}

/**
 * Parse a `WWW-Authenticate` value, which may carry several challenges separated by commas:
 *   Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a:pull"
 *   Basic realm="Registry Realm"
 * A token followed by `=` is a parameter of the current challenge; any other token starts a new one.
 * Quoted values may contain commas and backslash escapes. Malformed parts are skipped, not fatal:
 * the caller decides what to do when no usable challenge remains.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = []
  let i = 0
  const n = header.length
  const skipSpaceAndCommas = (): void => { while (i < n && /[\s,]/.test(header[i] as string)) i++ }
  const readToken = (): string => {
    const start = i
    while (i < n && /[!#$%&'*+\-.^_`|~0-9A-Za-z/]/.test(header[i] as string)) i++
    return header.slice(start, i)
  }
  const readValue = (): string => {
    if (header[i] !== '"') {
      const start = i
      while (i < n && !/[\s,]/.test(header[i] as string)) i++
      return header.slice(start, i)
    }
    i++
    let value = ''
    while (i < n && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < n) i++
      value += header[i]
      i++
    }
    i++ // the closing quote
    return value
  }
  let current: Challenge | undefined
  for (let guard = 0; i < n && guard < n; guard++) {
    skipSpaceAndCommas()
    const token = readToken()
    if (token === '') { i++; continue }
    let j = i
    while (j < n && header[j] === ' ') j++
    if (header[j] === '=' && current !== undefined) {
      i = j + 1
      while (i < n && header[i] === ' ') i++
      current.params[token.toLowerCase()] = readValue()
    } else {
      current = { scheme: token.toLowerCase(), params: {} }
      out.push(current)
    }
  }
  return out
}
