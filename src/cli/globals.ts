/** Options every command can take, as ctr has them, plus where kubo is. */
export interface GlobalOptions {
  address: string
  namespace: string
  ipfsApi?: string | undefined
  debug: boolean
  /** Aborted when the user interrupts the command (Ctrl-C, SIGTERM). */
  signal?: AbortSignal
}

/** What a command hands back: the text for stdout, or the same result as JSON with --json. */
export interface CommandResult {
  text?: string
  json?: unknown
  exitCode?: number
}
