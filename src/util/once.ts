/** Bytes already in memory as the async stream that blob APIs take. */
export async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes
}
