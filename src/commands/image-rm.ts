import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { log } from '../cli/log.js'
import { removeImages } from '../pull/remove.js'

/** `ipcr image rm NAME…`: delete image records and release the pins rpull made for them. */
export async function run(args: string[], _opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  await removeImages(args, { ...globals, notify: log.info })
  return { text: args.join('\n'), json: { removed: args } }
}
