// The library's rooms stay apart: the model and the formats never import the CLI, and importing
// ipcr/oci or ipcr/estargz loads neither gRPC nor the kubo client (static imports only; backends
// that need them are loaded dynamically when used).
import { describe, expect, it } from 'vitest'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src')

function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(/^import\s+(?!type\b)[^'"]*?from\s+['"]([^'"]+)['"]|^export\s+(?!type\b)[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => (m[1] ?? m[2]) as string)
}

/** Every file and package reached from `entry` through static (non-type) imports. */
function closure(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>()
  const packages = new Set<string>()
  const visit = (file: string): void => {
    if (files.has(file)) return
    files.add(file)
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec.replace(/\.js$/, '.ts')))
      else packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0] as string)
    }
  }
  visit(entry)
  return { files, packages }
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => { const p = join(dir, n); return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [] })
}

describe('layering', () => {
  it('walks real import graphs (the check above has teeth)', () => {
    const oci = closure(join(src, 'oci/index.ts'))
    expect(oci.files.size).toBeGreaterThan(10)
    expect(oci.packages.has('tar-stream') || oci.packages.has('multiformats') || oci.files.size > 10).toBe(true)
    // The containerd client does reach gRPC: connection.ts over our HTTP/2 client on a socket.
    const client = closure(join(src, 'containerd/client.ts'))
    expect(client.files.has(join(src, 'containerd/h2/session.ts'))).toBe(true)
    expect(client.packages.has('node:net')).toBe(true)
  })

  it('ipcr/oci and ipcr/estargz load neither gRPC nor the kubo client', () => {
    for (const entry of ['oci/index.ts', 'estargz/index.ts']) {
      const { files, packages } = closure(join(src, entry))
      expect([...packages].filter((p) => p.startsWith('@grpc') || p === 'node:http2' || p === 'node:net')).toEqual([])
      expect([...files].filter((f) => f.includes('/containerd/') || f.endsWith('/ipfs/kubo.ts'))).toEqual([])
    }
  })

  it('nothing below the commands imports the CLI or a command', () => {
    for (const room of ['oci', 'estargz', 'ipfs', 'containerd', 'push', 'pull', 'run', 'util', 'testkit']) {
      for (const file of walk(join(src, room))) {
        const bad = staticImports(file).filter((s) => /\/(cli|commands)\//.test(s) || s.endsWith('/cli.js'))
        expect(bad, file).toEqual([])
      }
    }
  })
})
