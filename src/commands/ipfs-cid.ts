import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { CommandResult } from '../cli/globals.js'
import { NotFoundError } from '../errors.js'
import { cidOf, cidText } from '../ipfs/cid.js'

export async function run(args: string[]): Promise<CommandResult> {
  const file = args[0] ?? '-'
  if (file !== '-' && !(await stat(file).then((s) => s.isFile(), () => false))) throw new NotFoundError(`${file} is not a readable file`)
  const input = file === '-' ? process.stdin : createReadStream(file, { highWaterMark: 1 << 20 })
  const cid = cidText(await cidOf(input as AsyncIterable<Uint8Array>))
  return { text: cid, json: { cid } }
}
