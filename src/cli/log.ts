/**
 * stderr is for people; stdout carries only results, so scripts can capture it.
 */
export const log = {
  info(message: string): void {
    process.stderr.write(`${message}\n`)
  },
  debugEnabled: false,
  debug(message: string): void {
    if (log.debugEnabled) process.stderr.write(`debug: ${message}\n`)
  },
}
