import type { StorageDriver } from './driver.js'

/** The driver in memory, for tests: a map of paths, directories implied by them. */
export function memoryDriver(): StorageDriver & { paths(): string[] } {
  const files = new Map<string, Buffer>()
  const under = (dir: string): string => (dir === '' ? '' : `${dir}/`)
  return {
    get: async (path) => files.get(path),
    put: async (path, bytes) => { files.set(path, Buffer.from(bytes)) },
    delete: async (path) => {
      files.delete(path)
      for (const p of [...files.keys()]) if (p.startsWith(under(path))) files.delete(p)
    },
    list: async (dir) => {
      const names = new Set<string>()
      for (const p of files.keys()) if (p.startsWith(under(dir))) names.add(p.slice(under(dir).length).split('/')[0] as string)
      return [...names]
    },
    paths: () => [...files.keys()].sort(),
  }
}
