import { isLiveTerminal } from './log.js'
import type { Ora } from 'ora'
import { shortDigest } from '../oci/descriptor.js'
import type { PushEvent } from '../push/events.js'

function mib(n: number): string {
  return `${(n / (1 << 20)).toFixed(1)} MiB`
}

/**
 * Renders push events: on a terminal a live spinner naming the blobs in flight with their bytes,
 * persisting one line per finished blob; otherwise one plain line per blob, for logs and CI.
 */
export async function pushProgress(stream: NodeJS.WriteStream = process.stderr): Promise<{ onEvent(e: PushEvent): void; note(line: string): void; stop(): void }> {
  if (!isLiveTerminal(stream)) {
    return {
      onEvent(e) {
        if (e.type === 'layer-converted') stream.write(`${e.reused ? 'reused the eStargz conversion of' : 'converted'} ${shortDigest(e.from)}... to eStargz ${shortDigest(e.to)}...\n`)
        if (e.type === 'blob-done') stream.write(`${e.cid ? 'added' : 'wrote'} ${shortDigest(e.desc)}... ${e.desc.mediaType}${e.cid ? ` ipfs://${e.cid}` : ''}\n`)
      },
      note(line) { stream.write(`${line}\n`) },
      stop() { /* nothing live */ },
    }
  }
  const { default: ora } = await import('ora')
  const spinner: Ora = ora({ stream, text: 'pushing' }).start()
  const active = new Map<string, { size: number; bytes: number }>()
  let done = 0
  const render = (): void => {
    const parts = [...active.entries()].slice(0, 4).map(([d, p]) => `${d.slice(7, 19)} ${mib(p.bytes)}/${mib(p.size)}`)
    spinner.text = `pushing: ${done} added${parts.length ? `, ${parts.join('  ')}` : ''}`
  }
  return {
    onEvent(e) {
      if (e.type === 'layer-converted') {
        spinner.stopAndPersist({ symbol: e.reused ? '↺' : '⇄', text: `${e.reused ? 'reused the eStargz conversion of' : 'converted'} ${shortDigest(e.from)}... to ${shortDigest(e.to)}...` })
        spinner.start()
        return
      }
      if (e.type === 'blob-start') active.set(e.desc.digest, { size: e.desc.size, bytes: 0 })
      else if (e.type === 'blob-progress') { const p = active.get(e.desc.digest); if (p) p.bytes = e.bytes }
      else {
        active.delete(e.desc.digest)
        done++
        spinner.stopAndPersist({ symbol: '✔', text: `${shortDigest(e.desc)}... ${e.desc.mediaType}${e.cid ? ` ipfs://${e.cid}` : ''}` })
        spinner.start()
      }
      render()
    },
    /** A line said while the spinner runs: persisted above it, the spinner going on below. */
    note(line) {
      const spinning = spinner.isSpinning
      spinner.stopAndPersist({ symbol: ' ', text: line })
      if (spinning) spinner.start()
    },
    stop() { spinner.stop() },
  }
}
