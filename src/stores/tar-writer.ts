import type { FileHandle } from 'node:fs/promises'
import tar from 'tar-stream'

/** Fixed so that the same entries make the same bytes, wherever and whenever they are written. */
const mtime = new Date(0)

/** The one stream of a tar entry's body that we use, as tar-stream's Sink provides it. */
interface EntrySink {
  write(chunk: Uint8Array): boolean
  end(): void
  destroy(err?: Error): void
  on(event: 'drain' | 'close', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
  off(event: string, listener: (...args: never[]) => void): unknown
}

/**
 * A tar written straight into an open file, one entry after another, each body streamed with
 * back-pressure so no blob is ever held whole. Entries may be added concurrently: each waits for
 * those before it. A tar is one sequence of bytes, so the first failure (a blob that fails its
 * check half-way, a full disk) breaks the writer for good and every later call reports it.
 */
export class TarFileWriter {
  private readonly pack = tar.pack()
  private readonly drained: Promise<void>
  private queue: Promise<void> = Promise.resolve()
  private broken: unknown

  constructor(private readonly fh: FileHandle) {
    this.drained = (async () => {
      for await (const chunk of this.pack as unknown as AsyncIterable<Uint8Array>) await fh.write(chunk)
    })()
    // A failing file must fail the entries waiting on the pack too, or they would wait forever.
    this.drained.catch((err: unknown) => { this.break(err); this.pack.destroy(err as Error) })
  }

  /** A regular file of exactly `size` bytes; fewer or more break the writer. */
  addFile(name: string, size: number, bytes: AsyncIterable<Uint8Array>, mode = 0o644): Promise<void> {
    return this.enqueue(() => this.writeEntry({ name, size, mode, type: 'file' }, bytes))
  }

  addDirectory(name: string): Promise<void> {
    return this.enqueue(() => new Promise<void>((resolve, reject) => {
      this.pack.entry({ name: name.endsWith('/') ? name : `${name}/`, type: 'directory', mode: 0o755, mtime, uid: 0, gid: 0 }, (err) => (err ? reject(err) : resolve()))
    }))
  }

  /** Write the end-of-archive marker and make the bytes durable; the file handle is closed. */
  async finish(): Promise<void> {
    await this.enqueue(async () => undefined)
    this.pack.finalize()
    await this.drained
    await this.fh.sync()
    await this.fh.close()
  }

  /** Stop writing and close the file, leaving whatever was written (the caller removes it). */
  async abort(): Promise<void> {
    this.break(new Error('the archive was abandoned'))
    this.pack.destroy()
    await this.drained.catch(() => undefined)
    await this.fh.close().catch(() => undefined)
  }

  private break(err: unknown): void {
    this.broken ??= err
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const run = this.queue.then(() => {
      if (this.broken !== undefined) throw this.broken
      return work()
    })
    this.queue = run.catch((err: unknown) => this.break(err))
    return run
  }

  private async writeEntry(header: { name: string; size: number; mode: number; type: 'file' }, bytes: AsyncIterable<Uint8Array>): Promise<void> {
    let sink!: EntrySink
    const done = new Promise<void>((resolve, reject) => {
      sink = this.pack.entry({ ...header, mtime, uid: 0, gid: 0 }, (err) => (err ? reject(err) : resolve())) as unknown as EntrySink
    })
    done.catch(() => undefined) // awaited below; it may fail while we are still writing
    sink.on('error', () => undefined) // reported through `done`; unheard, an 'error' event would crash the process
    try {
      for await (const chunk of bytes) if (!sink.write(chunk)) await drain(sink)
    } catch (err) {
      sink.destroy(err as Error)
      throw err
    }
    sink.end()
    await done
  }
}

/** Wait for 'drain'; a stream that errors or closes first never drains, so that rejects. */
function drain(stream: EntrySink): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = (err?: Error): void => {
      stream.off('drain', onDrain)
      stream.off('error', onError)
      stream.off('close', onClose)
      if (err) reject(err)
      else resolve()
    }
    const onDrain = (): void => settle()
    const onError = (err: Error): void => settle(err)
    const onClose = (): void => settle(new Error('the tar entry closed before its body was written'))
    stream.on('drain', onDrain)
    stream.on('error', onError)
    stream.on('close', onClose)
  })
}
