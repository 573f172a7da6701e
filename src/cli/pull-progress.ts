import { isLiveTerminal } from './log.js'
import type { PullEvent } from '../pull/events.js'

/** `sha256:1a2b3c4d...`, the way ctr-remote shortens digests in its fetching lines. */
function short(digest: string): string {
  return `${digest.slice(0, 'sha256:'.length + 8)}...`
}

/**
 * Off a terminal: one `fetching sha256:xxxxxxxx... <media type>` line per blob, as ctr-remote prints.
 * On a terminal: the same lines persist above a spinner showing bytes and speed of the blobs in flight.
 */
export async function pullProgress(stream: NodeJS.WriteStream = process.stderr): Promise<{ onEvent(e: PullEvent): void; note(line: string): void; stop(): void }> {
  const line = (e: PullEvent): string | undefined => {
    switch (e.type) {
      case 'fetch-start': return `fetching ${short(e.desc.digest)} ${e.desc.mediaType}`
      case 'layer-remote': return `mounted ${short(e.desc.digest)} remotely (lazy)`
      case 'fetch-resumed': return e.offset >= e.desc.size ? `found ${short(e.desc.digest)} whole, left by an interrupted pull` : `resumed ${short(e.desc.digest)} at byte ${e.offset} of ${e.desc.size}`
      default: return undefined
    }
  }
  if (!isLiveTerminal(stream)) {
    return { onEvent(e) { const l = line(e); if (l) stream.write(`${l}\n`) }, note(l) { stream.write(`${l}\n`) }, stop() {} }
  }
  const { default: ora } = await import('ora')
  const spinner = ora({ stream, text: 'pulling' }).start()
  const active = new Map<string, { size: number; bytes: number; start: number }>()
  return {
    onEvent(e) {
      const l = line(e)
      if (l) { spinner.stopAndPersist({ symbol: ' ', text: l }); spinner.start() }
      if (e.type === 'fetch-start') active.set(e.desc.digest, { size: e.desc.size, bytes: 0, start: Date.now() })
      else if (e.type === 'fetch-progress') { const a = active.get(e.desc.digest); if (a) a.bytes = e.bytes }
      else if (e.type === 'fetch-done') active.delete(e.desc.digest)
      spinner.text = [...active.entries()].slice(0, 3).map(([d, a]) => {
        const secs = Math.max(0.001, (Date.now() - a.start) / 1000)
        return `${d.slice(7, 15)} ${(a.bytes / 2 ** 20).toFixed(1)}/${(a.size / 2 ** 20).toFixed(1)} MiB ${(a.bytes / 2 ** 20 / secs).toFixed(1)} MiB/s`
      }).join('  ') || 'unpacking'
    },
    /** A line said while the spinner runs: persisted above it, the spinner going on below. */
    note(l) {
      const spinning = spinner.isSpinning
      spinner.stopAndPersist({ symbol: ' ', text: l })
      if (spinning) spinner.start()
    },
    stop() { spinner.stop() },
  }
}
