/**
 * Prioritized files as `--estargz-record-in` names them. ctr-remote reads the record file its
 * `optimize --record-out` writes, a stream of JSON objects with a `path` (plus the manifest and
 * layer they were seen in, which it ignores, giving every layer the whole list); the same file
 * must give ipcr the same list, or the TOCs differ. A plain list, one path per line, is read too.
 * Either way a path counts once, where it first appears.
 */
import { UsageError } from '../errors.js'

export function parseRecordFile(text: string, file: string): string[] {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '')
  const json = lines[0]?.startsWith('{') === true
  const paths = lines.map((line, i) => (json ? recordPath(line, `${file}:${i + 1}`) : line))
  return [...new Set(paths)]
}

function recordPath(line: string, where: string): string {
  let entry: unknown
  try {
    entry = JSON.parse(line)
  } catch {
    throw new UsageError(`${where}: not a JSON record entry (a record file has one {"path": ...} object per line)`)
  }
  const path = (entry as { path?: unknown } | null)?.path
  if (typeof path !== 'string' || path === '') throw new UsageError(`${where}: the record entry has no "path"`)
  return path
}
