import type { Pinning } from './backend.js'
import { KuboError, replyJson, type KuboReply } from './kubo-rpc.js'

type Call = (cmd: string, args: Record<string, string | string[]>) => Promise<KuboReply>

const notPinned = (err: unknown): boolean => err instanceof KuboError && /not pinned/i.test(err.message)

/** kubo's pin API as the Pinning capability, over its RPC `call`. */
export function kuboPinning(call: Call): Pinning {
  return {
    async peerId() {
      return (await replyJson<{ ID: string }>(await call('id', {}))).ID
    },
    async isPinned(cid) {
      try {
        const r = await replyJson<{ Keys?: Record<string, unknown> }>(await call('pin/ls', { arg: cid, type: 'recursive' }))
        return Object.keys(r.Keys ?? {}).length > 0
      } catch (err) {
        if (notPinned(err)) return false
        throw err
      }
    },
    async pin(cids) {
      if (cids.length > 0) await call('pin/add', { arg: [...cids], recursive: 'true', progress: 'false' }).then(replyJson)
    },
    async unpin(cids) {
      for (const cid of cids) {
        try {
          await call('pin/rm', { arg: cid, recursive: 'true' }).then(replyJson)
        } catch (err) {
          if (!notPinned(err)) throw err
        }
      }
    },
    async sizeOf(cid) {
      return (await replyJson<{ TotalSize: number }>(await call('dag/stat', { arg: cid, progress: 'false' }))).TotalSize
    },
    async repoSize() {
      return (await replyJson<{ RepoSize: number }>(await call('repo/stat', { 'size-only': 'true' }))).RepoSize
    },
    async collectGarbage() {
      // A stream of {Key} / {Error} objects, one per line, while the GC runs: read to its end.
      const reply = await call('repo/gc', { quiet: 'true' })
      for await (const chunk of reply.body) void chunk
    },
  }
}
