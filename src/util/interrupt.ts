/**
 * What must be undone when the user stops a command (Ctrl-C, SIGTERM) in the middle: a
 * containerd lease to release, say. Library code registers an undo for the span of its work; the
 * CLI's signal handler (cli/interrupt.ts) runs every registered undo before it exits. Work in
 * flight is abandoned, not unwound, so an undo must be safe to run beside it.
 */
type Undo = () => Promise<unknown> | unknown

const undos = new Set<Undo>()

/** Register `undo` until the returned function is called (in a finally). */
export function onInterrupt(undo: Undo): () => void {
  undos.add(undo)
  return () => { undos.delete(undo) }
}

/** Run every registered undo, giving up on those still running after `timeoutMs`. */
export async function runInterruptUndos(timeoutMs: number): Promise<void> {
  const all = [...undos]
  undos.clear()
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.allSettled(all.map(async (undo) => undo())),
    new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs) }),
  ])
  clearTimeout(timer)
}
