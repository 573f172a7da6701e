import { shortDigest, type Descriptor } from './descriptor.js'
import { verifyStream } from './digest.js'
import type { ImageSink, ImageSource } from './store.js'

const verifiedMark = Symbol('ipcr.verified')

/**
 * A source whose blob() checks every blob against its descriptor's digest and size as it streams
 * (failing as soon as a blob runs past its size), so no caller holds unverified bytes. The stores'
 * open() returns sources wrapped so, and every walk over a source (push, copy, pull) wraps what it
 * is given: wrapping twice is a no-op. Other capabilities of the source (a conversion cache, a
 * resumable range read) pass through untouched: a Proxy keeps them reachable under their names.
 */
export function verifiedSource<S extends ImageSource>(source: S): S {
  if (isVerified(source)) return source
  return new Proxy(source, {
    get(target, key) {
      if (key === verifiedMark) return true
      if (key === 'blob') return (desc: Descriptor) => verifyStream(desc, target.blob(desc), `${shortDigest(desc)} (${desc.mediaType}) from ${target.location}`)
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}

/** A sink that stores only bytes matching their descriptor; a mismatch fails the put before the blob is kept. */
export function verifiedSink<S extends ImageSink>(sink: S): S {
  if (isVerified(sink)) return sink
  return new Proxy(sink, {
    get(target, key) {
      if (key === verifiedMark) return true
      if (key === 'putBlob') return (desc: Descriptor, bytes: AsyncIterable<Uint8Array>) => target.putBlob(desc, verifyStream(desc, bytes, `${shortDigest(desc)} (${desc.mediaType})`))
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}

function isVerified(x: object): boolean {
  return (x as { [verifiedMark]?: boolean })[verifiedMark] === true
}
