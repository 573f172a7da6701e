// `ipcr ipfs serve` in one network namespace serves the embedded store (no kubo anywhere) as a
// trustless gateway; `rpull --gateway` run in another namespace pulls the image, which then runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ctr, wipeContainerd } from '../support/rig.js'
import { ipcr } from '../support/ipcr.js'
import { bareCluster, ipcrBin, ipcrIn, type Cluster, type ClusterNode } from '../support/cluster.js'
import { uniqueImage, type UniqueImage } from '../support/unique-image.js'

let cluster: Cluster | undefined
let img: UniqueImage
let noKubo: NodeJS.ProcessEnv

beforeAll(async () => {
  const work = await mkdtemp(join(tmpdir(), 'ipcr-serve-e2e-'))
  img = await uniqueImage(join(work, 'layout'), `serve-${process.pid}`)
  noKubo = { IPFS_PATH: join(work, 'no-ipfs'), IPCR_ROOT: join(work, 'store') }
  cluster = await bareCluster(['server', 'client'])
})

afterAll(async () => {
  await cluster?.destroy()
})

describe('ipcr ipfs serve', () => {
  it('serves the embedded store to rpull --gateway in another network namespace, and the image runs', async () => {
    const server = (cluster as Cluster).node('server') as ClusterNode
    const client = (cluster as Cluster).node('client') as ClusterNode
    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${img.layout}`], { env: noKubo })
    expect(pushed.code, pushed.stderr).toBe(0)
    expect(pushed.stderr).toContain('embedded store')
    const root = pushed.stdout.trim()

    const url = `http://${server.ip}:8080`
    const serving = server.spawn(ipcrBin, ['ipfs', 'serve', '--listen', `${server.ip}:8080`], { env: noKubo, logName: 'serve' })
    try {
      let head = ''
      for (let i = 0; i < 100 && !/^HTTP\/1\.1 200/.test(head); i++) {
        head = (await client.exec('curl', ['-sSI', `${url}/ipfs/${root}?format=raw`])).stdout
        if (!/^HTTP\/1\.1 200/.test(head)) await new Promise((r) => setTimeout(r, 100))
      }
      expect(head).toMatch(/^HTTP\/1\.1 200/)
      expect(head).toMatch(/^content-type: application\/vnd\.ipld\.raw\r?$/m)
      expect(head).toMatch(/^content-length: \d+\r?$/m)
      expect((await readFile(serving.log, 'utf8')).split('\n')).toContain(url) // stdout: the URL alone on a line

      await wipeContainerd()
      const pulled = await ipcrIn(client, ['i', 'rpull', '--gateway', url, '--ipfs', root], { env: { ...noKubo, IPCR_ROOT: join(noKubo.IPCR_ROOT as string, '..', 'client-root') } })
      expect(pulled.code, pulled.stderr).toBe(0)
      expect(pulled.stderr).toContain('using the overlayfs snapshotter')
      const out = await ctr(['run', '--rm', '--snapshotter', 'overlayfs', root, `serve-${process.pid}`, '/bin/cat', '/unique.txt'])
      expect(out.stdout, out.stderr).toBe(img.text)
    } finally {
      await serving.stop()
    }
    expect(await readFile(serving.log, 'utf8')).toContain('SIGTERM: stopping')
  })
})
