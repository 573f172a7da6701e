// The library's rooms stay apart. The model (src/oci) imports nothing above util/; the formats
// (src/estargz) nothing but the model; util nothing of ours; nothing below the commands imports
// the CLI; no file reaches back to itself through its imports, dynamic imports included (a backend
// loaded on first use is loaded all the same). And importing ipcr/oci or ipcr/estargz statically
// loads neither gRPC nor the kubo client.
import { describe, expect, it } from 'vitest'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { cycles, importGraph, trespasses, type ImportGraph } from '../support/import-graph.js'

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')

/** The rules, as (room, where its files may import from). */
const rooms: Array<[string, string[]]> = [
  ['oci', ['oci', 'util', 'errors.ts']],
  ['estargz', ['estargz', 'oci', 'util', 'errors.ts']],
  ['util', ['util', 'errors.ts']],
]
const belowCommands = ['oci', 'estargz', 'ipfs', 'containerd', 'stores', 'push', 'pull', 'run', 'registry', 'cluster', 'gc', 'util', 'testkit']

function violations(g: ImportGraph): string[] {
  return [
    ...rooms.flatMap(([room, allowed]) => trespasses(g, room, allowed)),
    ...belowCommands.flatMap((room) => trespasses(g, room, [...belowCommands, 'errors.ts'])),
    ...cycles(g).map((c) => `cycle: ${c.join(' -> ')}`),
  ]
}

/** Everything reached from `entry` through static imports only (what importing it loads at once). */
function staticClosure(entry: string): { files: Set<string>; packages: Set<string> } {
  const g = importGraph(src, { dynamic: false })
  const files = new Set<string>()
  const packages = new Set<string>()
  const visit = (f: string): void => {
    if (files.has(f)) return
    files.add(f)
    for (const p of g.packages.get(f) ?? []) packages.add(p.startsWith('@') ? p.split('/').slice(0, 2).join('/') : p.split('/')[0] as string)
    for (const t of g.edges.get(f) ?? []) visit(t)
  }
  visit(entry)
  return { files, packages }
}

describe('layering', () => {
  it('has teeth: a model file importing a backend, a dynamic import into the CLI and a cycle are each found', () => {
    const root = mkdtempSync(join(tmpdir(), 'ipcr-layering-'))
    const write = (file: string, text: string): void => { mkdirSync(dirname(join(root, file)), { recursive: true }); writeFileSync(join(root, file), text) }
    write('oci/manifest.ts', "import { KuboClient } from '../ipfs/kubo.js'\nimport type { Lease } from '../containerd/leases.js'\n")
    write('ipfs/kubo.ts', "export async function load() { return import('../cli/log.js') }\n")
    write('cli/log.ts', '')
    write('containerd/leases.ts', '')
    write('pull/a.ts', "export { b } from './b.js'\n")
    write('pull/b.ts', "const a = () => import('./a.js')\n")
    expect(violations(importGraph(root))).toEqual([
      'oci/manifest.ts -> ipfs/kubo.ts',
      'ipfs/kubo.ts -> cli/log.ts',
      'cycle: pull/a.ts -> pull/b.ts',
    ])
  })

  it('the source tree keeps every rule', () => {
    const g = importGraph(src)
    expect(g.edges.size).toBeGreaterThan(100)
    expect(violations(g)).toEqual([])
  })

  it('ipcr/oci and ipcr/estargz load neither gRPC nor the kubo client', () => {
    for (const entry of ['oci/index.ts', 'estargz/index.ts']) {
      const { files, packages } = staticClosure(entry)
      expect(files.size).toBeGreaterThan(5)
      expect([...packages].filter((p) => p.startsWith('@grpc') || p === 'node:http2' || p === 'node:net')).toEqual([])
      expect([...files].filter((f) => f.startsWith('containerd/') || f.startsWith('ipfs/') || f.startsWith('stores/'))).toEqual([])
    }
    // ... while the containerd client does reach its transport: the check walks real graphs.
    const client = staticClosure('containerd/client.ts')
    expect(client.packages.has('node:net')).toBe(true)
    // node:http2 (~9 ms to load) is imported only when IPCR_GRPC_TRANSPORT asks for it.
    expect(client.packages.has('node:http2')).toBe(false)
    expect(staticClosure('containerd/transport-node.ts').packages.has('node:http2')).toBe(true)
  })

  it('commands stay thin: no command file is over 60 lines, and none asks which IPFS backend it has', () => {
    const dir = join(src, 'commands')
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8')
      expect(text.trimEnd().split('\n').length, file).toBeLessThanOrEqual(60)
      expect(text, file).not.toMatch(/instanceof (KuboClient|EmbeddedIpfs)/)
    }
  })
})
