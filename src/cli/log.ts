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

/**
 * Draw live progress only on a terminal that reports its width. A pseudo-terminal with no size
 * (`script` without a terminal, some CI runners) reports 0 columns, and spinners that measure
 * lines by width then redraw forever; plain lines are the safe choice there.
 */
export function isLiveTerminal(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && (stream.columns ?? 0) > 0
}
