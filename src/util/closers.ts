/**
 * Things to close when a command ends, closed in reverse order of opening, each whatever the
 * others do (Node 20 has no AsyncDisposableStack).
 */
export class Closers {
  private readonly all: Array<() => Promise<unknown> | unknown> = []

  /** Remember `thing` for closing; returns it, so opening and registering is one expression. */
  add<T extends { close(): Promise<unknown> | unknown }>(thing: T): T {
    this.all.push(() => thing.close())
    return thing
  }

  async close(): Promise<void> {
    for (const close of this.all.splice(0).reverse()) await Promise.resolve().then(close).catch(() => undefined)
  }
}
