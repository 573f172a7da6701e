import { NotFoundError, UsageError } from '../errors.js'
import type { SpecUser } from './spec.js'

export interface PasswdEntry { name: string; uid: number; gid: number }
export interface GroupEntry { name: string; gid: number; members: string[] }

/** Reads a file of the container's root filesystem; undefined when it does not exist. */
export type ReadRootFile = (path: string) => Promise<string | undefined>

function lines(text: string): string[][] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.split(':'))
}

const id = (s: string | undefined): number | undefined => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined)

/** /etc/passwd: name:password:uid:gid:gecos:home:shell; malformed lines are skipped, as runc's parser does. */
export function parsePasswd(text: string): PasswdEntry[] {
  return lines(text).flatMap(([name, , uid, gid]) => {
    const u = id(uid)
    const g = id(gid)
    return name && u !== undefined && g !== undefined ? [{ name, uid: u, gid: g }] : []
  })
}

/** /etc/group: name:password:gid:member,member. */
export function parseGroup(text: string): GroupEntry[] {
  return lines(text).flatMap(([name, , gid, members]) => {
    const g = id(gid)
    return name && g !== undefined ? [{ name, gid: g, members: (members ?? '').split(',').map((m) => m.trim()).filter(Boolean) }] : []
  })
}

/** runc accepts ids up to MaxInt32; anything else is a name. */
const maxId = 2 ** 31 - 1
const numeric = (s: string): number | undefined => {
  const n = id(s)
  return n !== undefined && n <= maxId ? n : undefined
}

/** Check the shape of --user before anything is created: `user`, `uid`, `user:group`, `uid:gid` and mixes. */
export function checkUserSyntax(user: string): void {
  const parts = user.split(':')
  if (parts.length > 2 || parts.some((p) => p === '' || /\s/.test(p))) {
    throw new UsageError(`invalid --user "${user}": expected USER, UID, USER:GROUP or UID:GID`)
  }
}

/**
 * The process user as containerd's WithUser then WithAdditionalGIDs make it, from the image's
 * /etc/passwd and /etc/group: a name must exist there; a bare uid takes its passwd gid (else 0);
 * supplementary groups are those listing the user as a member, with the primary group first.
 * `user` undefined means root, as an image without USER runs.
 */
export async function resolveUser(user: string | undefined, read: ReadRootFile): Promise<SpecUser> {
  let passwd: Promise<PasswdEntry[] | undefined> | undefined
  let group: Promise<GroupEntry[] | undefined> | undefined
  const users = () => (passwd ??= read('/etc/passwd').then((t) => (t === undefined ? undefined : parsePasswd(t))))
  const groups = () => (group ??= read('/etc/group').then((t) => (t === undefined ? undefined : parseGroup(t))))
  const byName = async (name: string): Promise<PasswdEntry> => {
    const list = await users()
    const found = list?.find((u) => u.name === name)
    if (!found) throw new NotFoundError(`user "${name}" not found in the image's /etc/passwd${list === undefined ? ' (it has none)' : ''}`)
    return found
  }

  let uid = 0
  let gid = 0
  let member: string | undefined = 'root'
  if (user !== undefined) {
    checkUserSyntax(user)
    const [u, g] = user.split(':') as [string, string | undefined]
    const uidNum = numeric(u)
    if (g === undefined) {
      if (uidNum === undefined) {
        const entry = await byName(u)
        uid = entry.uid; gid = entry.gid
      } else {
        // WithUserID: the passwd entry's gid, or 0 when there is none.
        const entry = (await users())?.find((e) => e.uid === uidNum)
        uid = uidNum; gid = entry?.gid ?? 0
      }
    } else {
      const gidNum = numeric(g)
      uid = uidNum ?? (await byName(u)).uid
      if (gidNum !== undefined) gid = gidNum
      else {
        const list = await groups()
        const found = list?.find((e) => e.name === g)
        if (!found) throw new NotFoundError(`group "${g}" not found in the image's /etc/group${list === undefined ? ' (it has none)' : ''}`)
        gid = found.gid
      }
    }
    // WithAdditionalGIDs(uid): supplementary groups of the passwd user with that uid, if any.
    member = (await users())?.find((e) => e.uid === uid)?.name
  }
  const extra = member === undefined ? [] : ((await groups()) ?? []).filter((e) => e.name !== member && e.members.includes(member)).map((e) => e.gid)
  return { uid, gid, additionalGids: extra.includes(gid) ? extra : [gid, ...extra] }
}
