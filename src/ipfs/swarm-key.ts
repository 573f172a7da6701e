import { randomBytes } from 'node:crypto'
import { UsageError } from '../errors.js'

/**
 * A private-network key as kubo reads it from `$IPFS_PATH/swarm.key` (libp2p's pnet PSK v1):
 * three lines, `/key/swarm/psk/1.0.0/`, the encoding `/base16/`, then 32 bytes in hex. Nodes only
 * talk to nodes holding the same key; with `LIBP2P_FORCE_PNET=1` kubo refuses to start without one.
 */
const header = '/key/swarm/psk/1.0.0/'
const keyBytes = 32

export function newSwarmKey(): string {
  return formatSwarmKey(randomBytes(keyBytes))
}

export function formatSwarmKey(key: Uint8Array): string {
  if (key.byteLength !== keyBytes) throw new UsageError(`a swarm key is ${keyBytes} bytes, not ${key.byteLength}`)
  return `${header}\n/base16/\n${Buffer.from(key).toString('hex')}\n`
}

/** The 32 key bytes of a swarm.key file, accepting the encodings go-libp2p accepts (base16, base64, bin). */
export function parseSwarmKey(text: string | Uint8Array): Uint8Array {
  const bytes = Buffer.from(text)
  const lines = bytes.toString('latin1').split(/\r?\n/)
  if (lines[0]?.trim() !== header) throw new UsageError(`not a swarm key: the first line must be ${header}`)
  const encoding = lines[1]?.trim()
  const line = lines[2]?.trim() ?? ''
  let key: Buffer
  if (encoding === '/base16/') {
    if (!/^[0-9a-fA-F]*$/.test(line)) throw new UsageError('not a swarm key: the key line is not hexadecimal')
    key = Buffer.from(line, 'hex')
  } else if (encoding === '/base64/') key = Buffer.from(line, 'base64')
  else if (encoding === '/bin/') key = bytes.subarray(bytes.indexOf('/bin/') + '/bin/'.length + 1)
  else throw new UsageError(`not a swarm key: unknown encoding "${encoding ?? ''}" (expected /base16/, /base64/ or /bin/)`)
  if (key.byteLength !== keyBytes) throw new UsageError(`not a swarm key: the key is ${key.byteLength} bytes, expected ${keyBytes}`)
  return key
}
