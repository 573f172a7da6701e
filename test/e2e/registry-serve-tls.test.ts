// `ipcr registry serve --tls-cert --tls-key`: HTTPS with a certificate the test makes, and a
// client that trusts its CA pulls a manifest; one that does not is refused by TLS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildFixtures, type Fixtures } from '../../src/testkit/index.js'
import { ipcr } from '../support/ipcr.js'
import { startIpcrServer, type IpcrServer } from '../support/ipcr-server.js'
import { makeServerCert } from '../support/registry.js'
import { run } from '../support/rig.js'

let fx: Fixtures
let work: string
let server: IpcrServer | undefined

beforeAll(async () => {
  fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
  work = await mkdtemp(join(tmpdir(), 'ipcr-serve-tls-'))
})

afterAll(async () => {
  await server?.stop()
  await rm(work, { recursive: true, force: true })
})

describe('ipcr registry serve over TLS', () => {
  it('serves HTTPS with the given certificate: a client trusting its CA gets the manifest, others are refused', async () => {
    const env = { IPFS_PATH: join(work, 'no-ipfs'), IPCR_ROOT: join(work, 'root') }
    const pushed = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', '--json', `oci-layout:${fx.single.layout}`], { env })
    expect(pushed.code, pushed.stderr).toBe(0)
    const { root, rootDescriptor } = JSON.parse(pushed.stdout) as { root: string; rootDescriptor: { digest: string } }
    const tls = await makeServerCert(work)
    server = await startIpcrServer(['registry', 'serve', '--listen', '127.0.0.1:0', '--tls-cert', tls.cert, '--tls-key', tls.key], env)
    const url = server.url
    expect(url).toMatch(/^https:/)
    const manifest = `${url}/v2/ipfs/${root}/manifests/latest`
    const trusted = await run('curl', ['-sS', '-D', '-', '-o', '/dev/null', '--cacert', tls.ca, '-H', 'Accept: application/vnd.oci.image.manifest.v1+json', manifest])
    expect(trusted.code, trusted.stderr).toBe(0)
    expect(trusted.stdout).toMatch(/^HTTP\/1\.1 200/)
    expect(trusted.stdout.toLowerCase()).toContain(`docker-content-digest: ${rootDescriptor.digest}`)
    const untrusted = await run('curl', ['-sS', '-o', '/dev/null', manifest])
    expect(untrusted.code).not.toBe(0)
    expect(untrusted.stderr).toMatch(/certificate/i)
  })
})
