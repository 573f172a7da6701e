import type { CommandResult } from '../cli/globals.js'
import { ipnsNameForRef } from '../ipfs/ipns-key.js'

/** `ipcr ipns name REF`: the IPNS name a reference is published under, computed locally. */
export async function run(args: string[]): Promise<CommandResult> {
  const ref = args[0] ?? ''
  const name = ipnsNameForRef(ref)
  return { text: name, json: { ref, name } }
}
