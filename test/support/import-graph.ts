// The runtime import graph of a source tree: static imports and exports (type-only ones vanish at
// run time and are left out) and dynamic import('…') calls, which load on first use but load all
// the same. The layering test checks rooms and cycles on it.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

export interface ImportGraph {
  /** File -> the files it imports (relative specifiers only), by path relative to the root. */
  edges: Map<string, string[]>
  /** File -> the packages it imports. */
  packages: Map<string, string[]>
}

const staticPattern = /^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm
const dynamicPattern = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g

export function importsOf(text: string, o: { dynamic?: boolean } = {}): string[] {
  return [...text.matchAll(staticPattern), ...(o.dynamic === false ? [] : text.matchAll(dynamicPattern))].map((m) => m[1] as string)
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => { const p = join(dir, n); return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [] })
}

export function importGraph(root: string, o: { dynamic?: boolean } = {}): ImportGraph {
  const edges = new Map<string, string[]>()
  const packages = new Map<string, string[]>()
  for (const file of walk(root)) {
    const from = relative(root, file)
    const specs = importsOf(readFileSync(file, 'utf8'), o)
    edges.set(from, specs.filter((s) => s.startsWith('.')).map((s) => relative(root, resolve(dirname(file), s.replace(/\.js$/, '.ts')))))
    packages.set(from, specs.filter((s) => !s.startsWith('.')))
  }
  return { edges, packages }
}

/** Every import cycle, as the files of each strongly connected component of more than one file (or a file importing itself). */
export function cycles(g: ImportGraph): string[][] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (v: string): void => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of g.edges.get(v) ?? []) {
      if (!g.edges.has(w)) continue
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v) as number, low.get(w) as number)) }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = []
      let w: string
      do { w = stack.pop() as string; onStack.delete(w); scc.push(w) } while (w !== v)
      if (scc.length > 1 || (g.edges.get(v) ?? []).includes(v)) found.push(scc.sort())
    }
  }
  for (const v of g.edges.keys()) if (!index.has(v)) visit(v)
  return found
}

/** Imports that leave a room for a place it may not reach: `allowed` lists the folders (or files) a room's files may import. */
export function trespasses(g: ImportGraph, room: string, allowed: readonly string[]): string[] {
  const inside = (f: string, place: string): boolean => f === place || f.startsWith(`${place}/`)
  return [...g.edges].filter(([from]) => inside(from, room))
    .flatMap(([from, tos]) => tos.filter((to) => !allowed.some((a) => inside(to, a))).map((to) => `${from} -> ${to}`))
}
