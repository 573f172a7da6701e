// ipcr run's pure parts: the OCI spec as containerd's client builds it for ctr run, users from the
// image's passwd and group files, reading those files from snapshot layers, and flag parsing.
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UsageError } from '../../src/errors.js'
import { containerSpec, type ContainerSpecInput } from '../../src/run/container-spec.js'
import { imageNameOf, parseImageConfig } from '../../src/run/image.js'
import { checkContainerId, checkCwd, checkEnv, parseLabels, parseMemoryLimit, parseMount } from '../../src/run/options.js'
import { layerDirs, readFromLayers } from '../../src/run/rootfs.js'
import { parseSignal } from '../../src/run/signals.js'
import { defaultSpec, mergeEnv } from '../../src/run/spec.js'
import { parseGroup, parsePasswd, resolveUser } from '../../src/run/user.js'

const root = { uid: 0, gid: 0, additionalGids: [0] }
const input = (over: Partial<ContainerSpecInput> = {}): ContainerSpecInput => ({
  namespace: 'default', id: 'c1', image: { Cmd: ['/bin/sh'] }, args: [], env: [], mounts: [], user: root, ...over,
})

describe('the spec ctr run would make', () => {
  it('starts from containerd\'s defaults: namespaces, mounts, capabilities, masked paths, rlimits, cgroup', () => {
    const s = defaultSpec('ns', 'id1')
    expect(s.ociVersion).toBe('1.0.2-dev')
    expect(s.root).toEqual({ path: 'rootfs' })
    expect(s.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'network'])
    expect(s.mounts.map((m) => m.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/run'])
    expect(s.process.capabilities.bounding).toHaveLength(14)
    expect(s.process.capabilities.effective).toContain('CAP_NET_BIND_SERVICE')
    expect(s.process.noNewPrivileges).toBe(true)
    expect(s.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }])
    expect(s.linux.maskedPaths).toContain('/proc/kcore')
    expect(s.linux.readonlyPaths).toContain('/proc/sys')
    expect(s.linux.cgroupsPath).toBe('/ns/id1')
    expect(s.linux.resources.devices[0]).toEqual({ allow: false, access: 'rwm' })
    expect(s.linux.resources.devices).toContainEqual({ allow: true, type: 'c', major: 136, access: 'rwm' })
    expect(s.hostname).toBeUndefined()
  })

  it('takes Entrypoint, Cmd, Env, WorkingDir from the image; a command replaces both Entrypoint and Cmd', () => {
    const image = { Entrypoint: ['/entry'], Cmd: ['a', 'b'], Env: ['PATH=/x', 'A=1'], WorkingDir: '/w' }
    const s = containerSpec(input({ image }))
    expect(s.process.args).toEqual(['/entry', 'a', 'b'])
    expect(s.process.env).toEqual(['PATH=/x', 'A=1'])
    expect(s.process.cwd).toBe('/w')
    expect(containerSpec(input({ image, args: ['echo', 'hi'], cwd: '/tmp' })).process).toMatchObject({ args: ['echo', 'hi'], cwd: '/tmp' })
  })

  it('lays --env over the image\'s, gives an image without Env a PATH, and unsets with a bare KEY', () => {
    expect(containerSpec(input({ image: { Cmd: ['x'] } })).process.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'])
    const s = containerSpec(input({ image: { Cmd: ['x'], Env: ['PATH=/p', 'A=1', 'B=2'] }, env: ['A=9', 'C=3', 'C=4', 'B'] }))
    expect(s.process.env).toEqual(['PATH=/p', 'A=9', 'C=4'])
    expect(mergeEnv(['A=1'], ['A', 'A=2'])).toEqual(['A=2'])
  })

  it('a terminal adds TERM and the console size; --read-only, --memory-limit and labels go where runc reads them', () => {
    const s = containerSpec(input({ tty: { width: 120, height: 40 }, readOnly: true, memoryLimit: 1 << 26, annotations: { a: 'b' } }))
    expect(s.process.terminal).toBe(true)
    expect(s.process.env).toContain('TERM=xterm')
    expect(s.process.consoleSize).toEqual({ height: 40, width: 120 })
    expect(s.root.readonly).toBe(true)
    expect(s.linux.resources.memory).toEqual({ limit: 1 << 26 })
    expect(s.annotations).toEqual({ a: 'b' })
    expect(containerSpec(input({ tty: { width: 0, height: 0 } })).process.consoleSize).toBeUndefined()
  })

  it('--net-host drops the network namespace and binds the host\'s hosts and resolv.conf', () => {
    const s = containerSpec(input({ netHost: { hostname: 'h1' } }))
    expect(s.linux.namespaces.map((n) => n.type)).not.toContain('network')
    expect(s.mounts.slice(-2).map((m) => m.destination)).toEqual(['/etc/hosts', '/etc/resolv.conf'])
    expect(s.process.env).toContain('HOSTNAME=h1')
  })

  it('appends extra mounts and the resolved user', () => {
    const mount = parseMount('type=bind,src=/a,dst=/b,options=ro')
    const s = containerSpec(input({ mounts: [mount], user: { uid: 1000, gid: 1000, additionalGids: [1000, 5] } }))
    expect(s.mounts[s.mounts.length - 1]).toEqual({ destination: '/b', type: 'bind', source: '/a', options: ['rbind', 'ro'] })
    expect(s.process.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 5] })
  })

  it('refuses an image with nothing to run and no command', () => {
    expect(() => containerSpec(input({ image: {} }))).toThrow(UsageError)
  })

  it('serialises as Go\'s specs.Spec would: no empty optional fields', () => {
    const json = JSON.parse(JSON.stringify(containerSpec(input()))) as Record<string, unknown>
    expect(Object.keys(json)).toEqual(['ociVersion', 'process', 'root', 'mounts', 'linux'])
    expect(Object.keys(json.process as object)).not.toContain('terminal')
  })
})

describe('image configs', () => {
  it('reads the fields a container needs and ignores the rest', () => {
    const cfg = parseImageConfig(Buffer.from(JSON.stringify({
      architecture: 'amd64', config: { User: 'app', Env: ['A=1'], Entrypoint: null, Cmd: ['sh'], WorkingDir: '', StopSignal: 'SIGQUIT', Labels: { l: 'v', n: 1 } },
    })))
    expect(cfg).toEqual({ User: 'app', Env: ['A=1'], Cmd: ['sh'], StopSignal: 'SIGQUIT', Labels: { l: 'v' } })
    expect(parseImageConfig(Buffer.from('{"rootfs":{}}'))).toEqual({})
    expect(() => parseImageConfig(Buffer.from('nope'))).toThrow(/not valid JSON/)
  })

  it('names rpull\'s images by the bare CID', () => {
    expect(imageNameOf('ipfs://bafkreiabc/')).toBe('bafkreiabc')
    expect(imageNameOf('/ipfs/bafkreiabc')).toBe('bafkreiabc')
    expect(imageNameOf('docker.io/library/alpine:3')).toBe('docker.io/library/alpine:3')
  })
})

describe('users from the image\'s /etc/passwd and /etc/group', () => {
  const files: Record<string, string> = {
    '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1000::/home/app:/bin/sh\nweb:x:33:33::/:/bin/false\nbroken\n',
    '/etc/group': 'root:x:0:\napp:x:1000:\nwheel:x:10:app,root\nstaff:x:50:app\nweb:x:33:\n',
  }
  const read = async (path: string) => files[path]
  const none = async () => undefined

  it('parses the files as runc does', () => {
    expect(parsePasswd(files['/etc/passwd']!)).toEqual([{ name: 'root', uid: 0, gid: 0 }, { name: 'app', uid: 1000, gid: 1000 }, { name: 'web', uid: 33, gid: 33 }])
    expect(parseGroup(files['/etc/group']!)[2]).toEqual({ name: 'wheel', gid: 10, members: ['app', 'root'] })
  })

  it('root by default, with the groups that list root', async () => {
    expect(await resolveUser(undefined, read)).toEqual({ uid: 0, gid: 0, additionalGids: [0, 10] })
    expect(await resolveUser(undefined, none)).toEqual({ uid: 0, gid: 0, additionalGids: [0] })
  })

  it('a name takes its uid and gid and supplementary groups', async () => {
    expect(await resolveUser('app', read)).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 10, 50] })
    await expect(resolveUser('nobody', read)).rejects.toThrow('user "nobody" not found in the image\'s /etc/passwd')
    await expect(resolveUser('app', none)).rejects.toThrow(/it has none/)
  })

  it('a uid takes its passwd gid, or 0 when there is no such user', async () => {
    expect(await resolveUser('33', read)).toEqual({ uid: 33, gid: 33, additionalGids: [33] })
    expect(await resolveUser('4242', read)).toEqual({ uid: 4242, gid: 0, additionalGids: [0] })
  })

  it('user:group in every mix of names and ids', async () => {
    expect(await resolveUser('1000:1000', read)).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000, 10, 50] })
    expect(await resolveUser('app:web', read)).toEqual({ uid: 1000, gid: 33, additionalGids: [33, 10, 50] })
    expect(await resolveUser('5:staff', none.bind(null) as never).catch((e: Error) => e.message)).toMatch(/group "staff" not found/)
    expect(await resolveUser('7:8', none)).toEqual({ uid: 7, gid: 8, additionalGids: [8] })
    await expect(resolveUser('a:b:c', read)).rejects.toThrow(UsageError)
    await expect(resolveUser(':1', read)).rejects.toThrow(UsageError)
  })
})

describe('reading a snapshot\'s files without mounting it', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ipcr-run-layers-'))
    // lower: the base; upper hides /etc/group with an OCI whiteout and replaces /etc/passwd via a symlink.
    await mkdir(join(dir, 'lower/etc'), { recursive: true })
    await mkdir(join(dir, 'upper/etc'), { recursive: true })
    await mkdir(join(dir, 'upper/data'), { recursive: true })
    await writeFile(join(dir, 'lower/etc/passwd'), 'lower passwd')
    await writeFile(join(dir, 'lower/etc/group'), 'lower group')
    await writeFile(join(dir, 'lower/etc/hosts'), 'lower hosts')
    await writeFile(join(dir, 'upper/etc/.wh.group'), '')
    await writeFile(join(dir, 'upper/data/passwd'), 'upper passwd')
    await symlink('../data/passwd', join(dir, 'upper/etc/passwd'))
  })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('finds the layer directories of an overlay or bind mount, topmost first', () => {
    expect(layerDirs([{ type: 'overlay', source: 'overlay', options: ['index=off', 'workdir=/w', 'upperdir=/u', 'lowerdir=/l1:/l2'] }])).toEqual(['/u', '/l1', '/l2'])
    expect(layerDirs([{ type: 'overlay', source: 'overlay', options: ['lowerdir=/l1:/l2'] }])).toEqual(['/l1', '/l2'])
    expect(layerDirs([{ type: 'bind', source: '/snap/fs', options: ['ro', 'rbind'] }])).toEqual(['/snap/fs'])
    expect(layerDirs([{ type: 'ext4', source: '/dev/x', options: [] }])).toBeUndefined()
  })

  it('reads through the layers as the merged filesystem shows them', async () => {
    const layers = [join(dir, 'upper'), join(dir, 'lower')]
    expect(await readFromLayers(layers, '/etc/passwd')).toBe('upper passwd')
    expect(await readFromLayers(layers, '/etc/hosts')).toBe('lower hosts')
    expect(await readFromLayers(layers, '/etc/group')).toBeUndefined()
    expect(await readFromLayers(layers, '/etc/none')).toBeUndefined()
    expect(await readFromLayers(layers, '/etc')).toBeUndefined()
  })
})

describe('run flags', () => {
  it('--mount as ctr parses it', () => {
    expect(parseMount('type=bind,src=/tmp,dst=/host,options=rbind:ro')).toEqual({ type: 'bind', source: '/tmp', destination: '/host', options: ['rbind', 'ro'] })
    expect(parseMount('source=/a,destination=/b')).toEqual({ type: 'bind', source: '/a', destination: '/b', options: ['rbind'] })
    expect(parseMount('type=tmpfs,src=tmpfs,dst=/scratch,options=size=1m')).toEqual({ type: 'tmpfs', source: 'tmpfs', destination: '/scratch', options: ['size=1m'] })
    expect(parseMount('"src=/a,b",dst=/c').source).toBe('/a,b')
    for (const bad of ['', 'src=/a', 'dst=rel', 'type=bind,dst=/x', 'type=bind,src=rel,dst=/x', 'nokey', 'size=1,dst=/x', '"src=/a,dst=/b']) {
      expect(() => parseMount(bad), bad).toThrow(UsageError)
    }
  })

  it('--env, --label, --memory-limit, --cwd and container ids', () => {
    expect(checkEnv('A=b=c')).toBe('A=b=c')
    expect(checkEnv('UNSET')).toBe('UNSET')
    for (const bad of ['', '=x', 'A B=1']) expect(() => checkEnv(bad), bad).toThrow(UsageError)
    expect(parseLabels(['a=1', 'b', 'c=x=y'])).toEqual({ a: '1', b: 'true', c: 'x=y' })
    expect(() => parseLabels(['=1'])).toThrow(UsageError)
    expect(parseMemoryLimit('1048576')).toBe(1 << 20)
    expect(parseMemoryLimit('64m')).toBe(64 << 20)
    expect(parseMemoryLimit('2G')).toBe(2 * 2 ** 30)
    expect(parseMemoryLimit('512KiB')).toBe(512 << 10)
    for (const bad of ['', '0', '-1', '1.5m', 'lots']) expect(() => parseMemoryLimit(bad), bad).toThrow(UsageError)
    expect(checkCwd('/w')).toBe('/w')
    expect(() => checkCwd('w')).toThrow(UsageError)
    for (const ok of ['a', 'run-1', 'A.b_c-9']) expect(() => checkContainerId(ok)).not.toThrow()
    for (const bad of ['', '-a', 'a--b', 'a b', 'a/b', 'x'.repeat(77)]) expect(() => checkContainerId(bad), bad).toThrow(UsageError)
  })

  it('signals by name, short name or number', () => {
    expect(parseSignal('SIGKILL')).toBe(9)
    expect(parseSignal('term')).toBe(15)
    expect(parseSignal('9')).toBe(9)
    expect(parseSignal('SIGRTMIN+3')).toBe(37)
    for (const bad of ['SIGNOPE', '0', '65', '']) expect(() => parseSignal(bad), bad).toThrow(UsageError)
  })
})
