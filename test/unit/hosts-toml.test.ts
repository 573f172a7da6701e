import { describe, expect, it } from 'vitest'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_MIRROR, hostsToml, hostsTomlFiles } from '../../src/registry/hosts-toml.js'
import { run } from '../../src/commands/registry-hosts.js'
import { UsageError } from '../../src/errors.js'

/** The TOML's meaningful lines: comments and blanks dropped, indentation trimmed. */
const lines = (text: string): string[] => text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))

describe('hosts.toml for containerd (docs/hosts.md)', () => {
  it('docker.io: the server is registry-1.docker.io, ipcr\'s registry is the one host, for pull and resolve', () => {
    const f = hostsToml('docker.io')
    expect(f.dir).toBe('docker.io')
    expect(f.path).toBe('docker.io/hosts.toml')
    expect(lines(f.text)).toEqual([
      'server = "https://registry-1.docker.io"',
      `[host."${DEFAULT_MIRROR}"]`,
      'capabilities = ["pull", "resolve"]',
    ])
    // The server line must come before any table, or TOML would put it inside the host's.
    expect(f.text.indexOf('server =')).toBeLessThan(f.text.indexOf('[host.'))
  })

  it('other registries keep their name and port in both the directory and the server', () => {
    expect(lines(hostsToml('registry.example.com:5000', 'http://127.0.0.1:6000').text)).toEqual([
      'server = "https://registry.example.com:5000"',
      '[host."http://127.0.0.1:6000"]',
      'capabilities = ["pull", "resolve"]',
    ])
    expect(hostsToml('registry.example.com:5000').dir).toBe('registry.example.com:5000')
    expect(hostsToml('ghcr.io').text).toContain('server = "https://ghcr.io"')
    expect(hostsToml('[::1]:5000').dir).toBe('[::1]:5000')
  })

  it('the mirror is reduced to its origin; a path, query or credentials are refused', () => {
    expect(hostsToml('ghcr.io', 'https://mirror.local:8443/').text).toContain('[host."https://mirror.local:8443"]')
    for (const bad of ['127.0.0.1:5050', 'ftp://127.0.0.1', 'http://127.0.0.1:5050/v2', 'http://u:p@127.0.0.1', 'http://127.0.0.1/?a=1']) {
      expect(() => hostsToml('ghcr.io', bad), bad).toThrow(UsageError)
    }
  })

  it('several hosts: one file each, in order; a host twice is refused', () => {
    expect(hostsTomlFiles(['docker.io', 'ghcr.io', 'quay.io']).map((f) => f.path)).toEqual(['docker.io/hosts.toml', 'ghcr.io/hosts.toml', 'quay.io/hosts.toml'])
    expect(() => hostsTomlFiles(['ghcr.io', 'ghcr.io'])).toThrow(/named twice/)
    expect(() => hostsTomlFiles([])).toThrow(UsageError)
  })

  it('a bad host is refused with one line that names it', () => {
    for (const bad of ['https://docker.io', 'docker.io/library', '../etc', '-bad.example', 'a..b', 'host:0', 'host:70000', 'ho st', '']) {
      let err: unknown
      try {
        hostsToml(bad)
      } catch (e) {
        err = e
      }
      expect(err, bad).toBeInstanceOf(UsageError)
      const message = (err as Error).message
      expect(message.split('\n'), bad).toHaveLength(1)
      expect(message, bad).toContain(`"${bad}"`)
    }
  })
})

describe('ipcr registry hosts', () => {
  it('prints each file after a "# /etc/containerd/certs.d/HOST/hosts.toml" line', async () => {
    const r = await run(['docker.io', 'ghcr.io'], { mirror: 'http://127.0.0.1:5050' })
    const text = r.text ?? ''
    expect(text.split('\n').filter((l) => l.startsWith('# /'))).toEqual([
      '# /etc/containerd/certs.d/docker.io/hosts.toml',
      '# /etc/containerd/certs.d/ghcr.io/hosts.toml',
    ])
    expect(text).toContain(hostsToml('docker.io').text)
    expect(text).toContain(hostsToml('ghcr.io').text)
  })

  it('--dir writes DIR/HOST/hosts.toml, creating the directories, with no temp file left', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipcr-hosts-'))
    try {
      const r = await run(['docker.io', 'registry.example.com:5000'], { dir: join(dir, 'certs.d'), mirror: 'http://127.0.0.1:7000' })
      expect(r.text?.split('\n')).toEqual([join(dir, 'certs.d/docker.io/hosts.toml'), join(dir, 'certs.d/registry.example.com:5000/hosts.toml')])
      expect(await readFile(join(dir, 'certs.d/registry.example.com:5000/hosts.toml'), 'utf8')).toBe(hostsToml('registry.example.com:5000', 'http://127.0.0.1:7000').text)
      expect((await readdir(join(dir, 'certs.d/docker.io'))).sort()).toEqual(['hosts.toml'])
      // Again: the files are replaced, not appended to.
      await run(['docker.io'], { dir: join(dir, 'certs.d'), mirror: 'http://127.0.0.1:7001' })
      expect(lines(await readFile(join(dir, 'certs.d/docker.io/hosts.toml'), 'utf8'))).toContain('[host."http://127.0.0.1:7001"]')
      expect(await readdir(join(dir, 'certs.d/docker.io'))).toEqual(['hosts.toml'])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('a bad host among good ones writes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipcr-hosts-'))
    try {
      await expect(run(['docker.io', 'bad/host'], { dir, mirror: DEFAULT_MIRROR })).rejects.toThrow(UsageError)
      expect(await readdir(dir)).toEqual([])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
