// The backend suite (test/support/backend-suite.ts) for the backends that need no daemon; the
// containerd store runs it in test/e2e/backends.test.ts. A backend joins with one more call.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { parseLocation } from '../../src/oci/location.js'
import { openImageSink, openImageSource, type OpenContext } from '../../src/stores/open.js'
import { backendSuite, type Backend } from '../support/backend-suite.js'

/** No daemon is reached opening a file location; the context only has to be well formed. */
const ctx: OpenContext = { address: '/nonexistent/containerd.sock', namespace: 'unused' }

/** A backend named by one location syntax, a fresh temp path per image. */
function fileBackend(location: (dir: string, image: string) => string, layout: (dir: string, image: string) => Promise<string>): () => Promise<Backend> {
  const dirs: string[] = []
  return async () => ({
    async location(image) {
      const dir = await mkdtemp(join(tmpdir(), `ipcr-backend-${image}-`))
      dirs.push(dir)
      const loc = parseLocation(location(dir, image))
      return {
        sink: () => openImageSink(loc, ctx),
        source: () => openImageSource(loc, ctx),
        layout: () => layout(dir, image),
      }
    },
    close: async () => { await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))) },
  })
}

backendSuite('oci-layout', fileBackend((dir) => `oci-layout:${dir}/layout`, async (dir) => join(dir, 'layout')))

// The archive is unpacked with the system's tar, so what is validated is the archive as written.
backendSuite('docker-archive', fileBackend((dir, image) => `docker-archive:${dir}/${image}.tar`, async (dir, image) => {
  const out = join(dir, 'unpacked')
  await mkdir(out)
  await promisify(execFile)('tar', ['-xf', join(dir, `${image}.tar`), '-C', out])
  return out
}))
