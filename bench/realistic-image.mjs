#!/usr/bin/env node
// bench/realistic-image: a realistic image for the convert and pull benchmarks (issues 3 and 4):
// a Debian bookworm minbase root filesystem with python3, made by debootstrap from Debian's
// packages, split into three gzip layers, written as an OCI layout plus a tarball of it that
// `ctr images import` reads as bench.ipcr/python:3.11.
//
//   node bench/realistic-image.mjs [--cache DIR] [--mirror URL] [--force]
//     (npm run build first; debootstrap needs root; apt-get installs it when missing)
//
// Layers (each: GNU tar, pax format, entries sorted by name, mtime 0, uid/gid 0, no atime/ctime,
// then `gzip -n`, level 6):
//   1. the base system: everything but python's files
//   2. python: every file the python3* / libpython3* packages installed (dpkg's lists), with
//      their parent directories (/usr/lib/python3.11, /usr/bin/python3.11, ...)
//   3. the app: /app/hello.py, which prints "Hello, World!"
// Config: Cmd ["python3", "/app/hello.py"], Env PATH, rootfs diff_ids, fixed `created`.
//
// Cached under ~/.cache/ipcr-rig/realistic/ (or IPCR_REALISTIC_CACHE, or --cache): rootfs/ (the
// debootstrap result, made once), layout/ (the OCI layout), python-3.11.tar (for ctr import) and
// stamp.json, written last; a run whose stamp matches RECIPE and whose files exist does nothing.
// The layers are a pure function of rootfs/; rootfs/ itself depends on the day's bookworm
// packages (and .pyc bytes from py3compile), so a fresh cache may give different digests.
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, readFileSync, lstatSync, readdirSync } from 'node:fs'
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { MT, OciLayoutWriter, writeImage, tarLayout } from '../dist/testkit/index.js'

export const REALISTIC_NAME = 'bench.ipcr/python:3.11'
/** Bump when the layer split, tar flags or config change: cached layouts are then rebuilt. */
const RECIPE = 'realistic-v1'
const SUITE = 'bookworm'
const PYTHON_PACKAGES = /^(lib)?python3[.0-9]*(-[a-z0-9.-]+)?(:[a-z0-9]+)?\.list$/
const HELLO = 'print("Hello, World!")\n'

const log = (msg) => process.stderr.write(`realistic-image: ${msg}\n`)

/** The Debian mirror apt uses here: the first URI serving SUITE in deb822 or one-line sources. */
export function aptMirror() {
  const files = []
  if (existsSync('/etc/apt/sources.list')) files.push('/etc/apt/sources.list')
  const d = '/etc/apt/sources.list.d'
  if (existsSync(d)) for (const f of readdirSync(d).sort()) if (/\.(list|sources)$/.test(f)) files.push(join(d, f))
  for (const f of files) {
    const text = readFileSync(f, 'utf8')
    if (f.endsWith('.sources')) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (k) => (new RegExp(`^${k}:\\s*(.+)$`, 'mi').exec(stanza)?.[1] ?? '').trim().split(/\s+/)
        if (field('Types').includes('deb') && field('Suites').includes(SUITE) && field('Components').includes('main')) {
          const uri = field('URIs')[0]
          if (uri) return uri
        }
      }
    } else {
      for (const line of text.split('\n')) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$/.exec(line)
        if (m && m[2] === SUITE && m[3].split(/\s+/).includes('main')) return m[1]
      }
    }
  }
  return 'http://deb.debian.org/debian'
}

function run(cmd, args, opts = {}) {
  execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts })
}

function ensureDebootstrap() {
  try {
    execFileSync('sh', ['-c', 'command -v debootstrap || test -x /usr/sbin/debootstrap'], { stdio: 'ignore' })
  } catch {
    log('installing debootstrap with apt-get')
    run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'update', '-qq'])
    run('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-qq', '--no-install-recommends', 'debootstrap'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    })
  }
}

/** debootstrap into cache/rootfs once (built in rootfs.tmp, renamed when done). */
async function ensureRootfs(cache, mirror) {
  const rootfs = join(cache, 'rootfs')
  if (existsSync(join(rootfs, '.ipcr-rootfs-done'))) return rootfs
  ensureDebootstrap()
  const tmp = join(cache, 'rootfs.tmp')
  await rm(tmp, { recursive: true, force: true })
  await rm(rootfs, { recursive: true, force: true })
  await mkdir(cache, { recursive: true })
  log(`debootstrap --variant=minbase --include=python3 ${SUITE} from ${mirror} (takes a few minutes)`)
  const t0 = Date.now()
  run('debootstrap', ['--variant=minbase', '--include=python3', SUITE, tmp, mirror], {
    env: { ...process.env, PATH: `/usr/sbin:/sbin:${process.env.PATH}`, DEBIAN_FRONTEND: 'noninteractive' },
  })
  log(`debootstrap done in ${((Date.now() - t0) / 1000).toFixed(0)} s; removing host- and time-dependent files`)
  // What image builders (debuerreotype, docker's debian images) strip: logs, apt lists and
  // caches, debootstrap's leftovers, files copied from this host, device nodes.
  const wipeContents = ['var/log', 'var/lib/apt/lists', 'var/cache/apt', 'var/cache/ldconfig', 'dev', 'run', 'tmp', 'proc', 'sys']
  for (const d of wipeContents) {
    const p = join(tmp, d)
    if (!existsSync(p)) continue
    for (const e of readdirSync(p)) await rm(join(p, e), { recursive: true, force: true })
  }
  for (const f of ['debootstrap', 'etc/resolv.conf', 'etc/hostname', 'etc/machine-id', 'var/lib/dbus/machine-id', 'etc/apt/sources.list']) {
    await rm(join(tmp, f), { recursive: true, force: true })
  }
  await writeFile(join(tmp, 'etc/apt/sources.list'), `deb http://deb.debian.org/debian ${SUITE} main\n`)
  await writeFile(join(tmp, 'etc/hostname'), 'localhost\n')
  await writeFile(join(tmp, '.ipcr-rootfs-done'), `${SUITE} minbase+python3 from ${mirror}\n`)
  await rename(tmp, rootfs)
  return rootfs
}

/** Every path under dir (relative, no leading slash), directories included, in byte order. */
function walk(dir) {
  const out = []
  const visit = (rel) => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name
      if (r === '.ipcr-rootfs-done') continue
      out.push(r)
      const st = lstatSync(join(dir, r))
      if (st.isDirectory()) visit(r)
    }
  }
  visit('')
  return out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
}

/**
 * Split the rootfs into [base, python]. Python's layer: every path the python packages' dpkg
 * lists name (and __pycache__ under /usr/lib/python3*), with all their parent directories.
 * The base layer: everything else, plus the directories that also hold something of the base.
 */
function splitRootfs(rootfs) {
  const info = join(rootfs, 'var/lib/dpkg/info')
  const isDir = (p) => lstatSync(join(rootfs, p)).isDirectory()
  const exists = (p) => { try { lstatSync(join(rootfs, p)); return true } catch { return false } }
  const listed = new Set()
  for (const f of readdirSync(info).filter((n) => PYTHON_PACKAGES.test(n)).sort()) {
    for (const line of readFileSync(join(info, f), 'utf8').split('\n')) {
      const p = line.replace(/^\/+/, '')
      if (p && p !== '.' && exists(p)) listed.add(p) // a diverted or removed path is skipped
    }
  }
  const all = walk(rootfs)
  // Byte-compiled files live next to the sources in __pycache__ and belong to no package list.
  for (const p of all) if (/^usr\/lib\/python3[^/]*\/(.*\/)?__pycache__(\/|$)/.test(p)) listed.add(p)
  const python = new Set()
  for (const p of listed) {
    python.add(p)
    for (let d = dirname(p); d !== '.'; d = dirname(d)) python.add(d)
  }
  // Directories with something of the base below them stay in the base layer too.
  const baseDirs = new Set()
  for (const p of all) {
    if (python.has(p)) continue
    for (let d = dirname(p); d !== '.'; d = dirname(d)) baseDirs.add(d)
  }
  const base = all.filter((p) => !python.has(p) || (isDir(p) && baseDirs.has(p)))
  return { base, python: all.filter((p) => python.has(p)) }
}

const TAR_FLAGS = [
  '--create', '--no-recursion', '--null', '--files-from=-', '--format=posix',
  '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
  '--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--xattrs',
  '--file=-',
]

/** Write one gzip layer of the given paths (already in order) of dir into the layout. */
async function writeTarLayer(w, dir, paths, comment) {
  const { descriptor, diffId } = await w.writeBlobStream(MT.ociLayerGzip, async (sink) => {
    const tar = spawn('tar', ['--directory', dir, ...TAR_FLAGS], { stdio: ['pipe', 'pipe', 'inherit'] })
    const exited = new Promise((resolve, reject) => {
      tar.on('error', reject)
      tar.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar exited ${code} for ${comment}`))))
    })
    tar.stdin.end(Buffer.from(paths.map((p) => `${p}\0`).join('')))
    await pipeline(tar.stdout, sink, { end: false })
    await exited
  }, { gzip: true })
  log(`layer ${comment}: ${paths.length} entries, ${(descriptor.size / 1048576).toFixed(1)} MiB gzip, ${descriptor.digest}`)
  return { descriptor, diffId, comment }
}

/** Build the image unless the cache already holds it; returns where it is. */
export async function ensureRealisticImage(opts = {}) {
  const cache = opts.cache ?? process.env.IPCR_REALISTIC_CACHE ?? join(homedir(), '.cache', 'ipcr-rig', 'realistic')
  const layoutDir = join(cache, 'layout')
  const tarPath = join(cache, 'python-3.11.tar')
  const stampPath = join(cache, 'stamp.json')
  if (!opts.force && existsSync(stampPath)) {
    const stamp = JSON.parse(await readFile(stampPath, 'utf8'))
    const blobs = [stamp.manifest, stamp.config, ...stamp.layers].map((d) => join(layoutDir, 'blobs/sha256', d.replace('sha256:', '')))
    if (stamp.recipe === RECIPE && existsSync(tarPath) && existsSync(join(layoutDir, 'index.json')) && blobs.every((b) => existsSync(b))) {
      return { ...stamp, cache, layoutDir, tarPath, cached: true }
    }
  }
  const mirror = opts.mirror ?? aptMirror()
  const rootfs = await ensureRootfs(cache, mirror)
  await rm(stampPath, { force: true })
  await rm(layoutDir, { recursive: true, force: true })
  await rm(tarPath, { force: true })
  const w = await new OciLayoutWriter(layoutDir).init()

  const { base, python } = splitRootfs(rootfs)
  const appDir = join(cache, 'app.tmp')
  await rm(appDir, { recursive: true, force: true })
  await mkdir(join(appDir, 'app'), { recursive: true })
  await writeFile(join(appDir, 'app/hello.py'), HELLO, { mode: 0o644 })
  execFileSync('chmod', ['0755', join(appDir, 'app')])

  const layers = [
    await writeTarLayer(w, rootfs, base, 'debian bookworm minbase (without python)'),
    await writeTarLayer(w, rootfs, python, 'python3.11 (dpkg files of python3*, libpython3*)'),
    await writeTarLayer(w, appDir, ['app', 'app/hello.py'], 'app: /app/hello.py'),
  ]
  await rm(appDir, { recursive: true, force: true })
  const img = await writeImage(w, {
    platform: { architecture: 'amd64', os: 'linux' },
    layers,
    cmd: ['python3', '/app/hello.py'],
  })
  await w.writeIndex([{ name: REALISTIC_NAME, descriptor: img.manifest }])
  await tarLayout(layoutDir, tarPath)
  const stamp = {
    recipe: RECIPE,
    name: REALISTIC_NAME,
    manifest: img.manifest.digest,
    config: img.config.digest,
    layers: img.layers.map((l) => l.digest),
    layerSizes: img.layers.map((l) => l.size),
    diffIds: img.diffIds,
    mirror,
  }
  await writeFile(stampPath, `${JSON.stringify(stamp, null, 2)}\n`)
  return { ...stamp, cache, layoutDir, tarPath, cached: false }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { cache: { type: 'string' }, mirror: { type: 'string' }, force: { type: 'boolean', default: false } } })
  const img = await ensureRealisticImage(values)
  const total = img.layerSizes.reduce((a, b) => a + b, 0)
  log(`${img.cached ? 'cached' : 'built'}: ${img.name}, ${img.layers.length} layers, ${(total / 1048576).toFixed(1)} MiB compressed, manifest ${img.manifest}`)
  console.log(`layout:  ${img.layoutDir}`)
  console.log(`tarball: ${img.tarPath}   (ctr images import ${img.tarPath}  ->  ${img.name})`)
}
