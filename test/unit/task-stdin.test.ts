import { PassThrough, Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { fifoReader, makeFifos, removeFifos, type FifoSet } from '../../src/run/fifo.js'
import { TaskStdio } from '../../src/run/stdio.js'

let fifos: FifoSet | undefined
afterEach(async () => { if (fifos) await removeFifos(fifos) })

describe('TaskStdio.forwardStdin', () => {
  it('waits for the shim to open the stdin FIFO when Tasks.Create returned before it did, then delivers everything and closes', { timeout: 10_000 }, async () => {
    fifos = await makeFifos('t', { stdin: true, stdout: false, stderr: false })
    const stdin = new PassThrough()
    const sink = new Writable({ write: (_c, _e, cb) => cb() })
    const stdio = new TaskStdio(fifos, { stdin, stdout: sink, stderr: sink })
    let opened = false
    const ended = new Promise<void>((resolve) => { void stdio.forwardStdin(resolve).then(() => { opened = true }) })
    stdin.end('hi')
    // The "shim" opens its reading end only now: before the fix this write was dropped for good.
    await new Promise((resolve) => setTimeout(resolve, 60))
    expect(opened, 'the task is not started before its stdin can be written').toBe(false)
    const reader = fifoReader(fifos.stdin)
    const chunks: Buffer[] = []
    reader.on('data', (c: Buffer) => chunks.push(c))
    await Promise.all([ended, new Promise((resolve) => reader.once('end', resolve))])
    expect(Buffer.concat(chunks).toString()).toBe('hi')
    stdio.close()
  })

  it('stops trying once the run is closed (the task exited without opening stdin)', async () => {
    fifos = await makeFifos('t', { stdin: true, stdout: false, stderr: false })
    const stdin = new PassThrough()
    const sink = new Writable({ write: (_c, _e, cb) => cb() })
    const stdio = new TaskStdio(fifos, { stdin, stdout: sink, stderr: sink })
    let ended = false
    const opened = stdio.forwardStdin(() => { ended = true })
    stdio.close()
    await opened // close() lets the caller go on
    await new Promise((resolve) => setTimeout(resolve, 100))
    // A reader now would find no writer from us: nothing was opened after close().
    const reader = fifoReader(fifos.stdin)
    const got = await Promise.race([new Promise((resolve) => reader.once('data', resolve)), new Promise((resolve) => setTimeout(() => resolve('none'), 100))])
    reader.destroy()
    expect(got).toBe('none')
    expect(ended).toBe(false)
  })
})

describe('TaskStdio.forwardStdin failures', () => {
  it('rejects with a one-line error naming the FIFO when a retried open fails for another reason than "no reader yet"', async () => {
    fifos = await makeFifos('t', { stdin: true, stdout: false, stderr: false })
    const stdin = new PassThrough()
    const sink = new Writable({ write: (_c, _e, cb) => cb() })
    const stdio = new TaskStdio(fifos, { stdin, stdout: sink, stderr: sink })
    const opened = stdio.forwardStdin(() => undefined)
    opened.catch(() => undefined)
    // The first open finds no reader (ENXIO) and is retried; the FIFO is gone before the retry.
    await removeFifos(fifos)
    await expect(opened).rejects.toThrow(/^cannot open the task's stdin FIFO .*t-stdin: ENOENT/)
    await expect(opened).rejects.toThrow(/^[^\n]*$/)
    stdio.close()
  })
})
