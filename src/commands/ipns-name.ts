import type { CommandResult } from '../cli/globals.js'
import { ipnsNameForRef } from '../ipfs/ipns-key.js'
import { parseTaggedReference } from '../oci/reference.js'

/** `ipcr ipns name REF`: the IPNS name a reference is published under, computed locally. */
export async function run(args: string[]): Promise<CommandResult> {
  // Only what ipfs-push could publish and rpull could take has a name worth printing.
  const ref = parseTaggedReference(args[0] ?? '').text
  const name = ipnsNameForRef(ref)
  return { text: name, json: { ref, name } }
}
