import type { CommandResult, GlobalOptions } from '../cli/globals.js'
import { log } from '../cli/log.js'
import { NotFoundError, UsageError } from '../errors.js'
import { ipcrRoot } from '../ipfs/embedded.js'
import { PushHistory } from '../ipfs/history.js'
import { publishPush } from '../ipfs/publish.js'
import { openIpfs } from '../ipfs/select.js'
import { parseTaggedReference } from '../oci/reference.js'

const day = 24 * 3600_000

/**
 * `ipcr ipns republish [REF…|--all]`: publish each remembered reference again with a fresh
 * lifetime, before its record expires. Derived keys are derived again; kubo keys are reused.
 */
export async function run(args: string[], opts: Record<string, unknown>, globals: GlobalOptions): Promise<CommandResult> {
  if (opts.all !== true && args.length === 0) throw new UsageError('name the references to republish, or pass --all')
  // A typo in a reference is reported as such, not as a reference never pushed.
  for (const ref of args) parseTaggedReference(ref)
  const history = await new PushHistory(ipcrRoot()).list()
  const chosen = opts.all === true ? history.filter((h) => h.ipnsName !== undefined) : args.map((ref) => {
    const h = history.find((e) => e.ref === ref)
    if (!h) throw new NotFoundError(`${ref} was never pushed from this machine (see \`ipcr image ls --ipfs\`)`)
    return h
  })
  const { backend, note } = await openIpfs({ api: globals.ipfsApi })
  log.info(note)
  const done: Array<{ ref: string; name: string; expires: string }> = []
  try {
    for (const h of chosen) {
      const published = await publishPush(backend, h.ref, h.root, { key: h.key, lifetimeMs: h.lifetimeMs ?? 2 * day, ttlMs: h.ttlMs ?? 300_000 })
      done.push({ ref: h.ref, name: published.name, expires: published.expires.toISOString() })
      log.info(`republished ${h.ref} as /ipns/${published.name} (valid until ${published.expires.toISOString()})`)
    }
  } finally {
    await backend.close()
  }
  return { text: '', json: done }
}
