// Who may write to `ipcr registry serve`: the flag combinations refused up front, the htpasswd file
// (bcrypt only, reloaded when it changes), Basic credentials and their cache, and TLS client
// certificates through a real HTTPS server with a CA and certificates made here with openssl.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import bcrypt from 'bcryptjs'
import { serveOptionsFrom } from '../../src/cli/registry-serve-options.js'
import { UsageError } from '../../src/errors.js'
import { RegistryError, type ErrorCode } from '../../src/registry/errors.js'
import { bcryptCheck } from '../../src/registry/htpasswd.js'
import { RegistryMetrics } from '../../src/registry/metrics.js'
import { serveRegistry, type RegistryDeps } from '../../src/registry/server.js'
import { basicCredentials, isLoopbackHost, loadWriteGate, type WriteGate, type WriteGateOptions } from '../../src/registry/write-gate.js'
import { makeServerCert } from '../support/registry.js'

let dir: string
const alice = bcrypt.hashSync('wonderland', 4) // cost 4: bcrypt's least, to stay fast
const bob = bcrypt.hashSync('builder', 4).replace(/^\$2b\$/, '$2y$') // as htpasswd -B writes it
const carol = bcrypt.hashSync('singer', 4).replace(/^\$2b\$/, '$2a$')

beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'ipcr-gate-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })
afterEach(() => { vi.restoreAllMocks() })

async function htpasswd(name: string, lines: string[]): Promise<string> {
  const file = join(dir, name)
  await writeFile(file, `${lines.join('\n')}\n`)
  return file
}

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

/** The part of a request the gate reads: its Authorization header and whether its TLS peer was verified. */
function req(authorization?: string, authorized?: boolean): IncomingMessage {
  return { headers: authorization === undefined ? {} : { authorization }, socket: authorized === undefined ? {} : { authorized, encrypted: true } } as unknown as IncomingMessage
}

async function refusal(p: Promise<void>): Promise<RegistryError> {
  const err: unknown = await p.then(() => undefined, (e: unknown) => e)
  if (!(err instanceof RegistryError)) throw new Error(`expected a RegistryError, got ${String(err)}`)
  return err
}

async function expectRefused(p: Promise<void>, code: ErrorCode): Promise<RegistryError> {
  const err = await refusal(p)
  expect(err.code).toBe(code)
  return err
}

const gateOn = (o: Partial<WriteGateOptions> = {}): Promise<WriteGate> => loadWriteGate({ allowPush: true, listenHost: '127.0.0.1', tls: false, ...o })

describe('loadWriteGate refuses configurations up front', () => {
  it('--allow-push beyond loopback without --htpasswd or --client-ca', async () => {
    for (const host of ['0.0.0.0', '::', '10.1.2.3', 'registry.example', '::ffff:10.0.0.1']) {
      await expect(loadWriteGate({ allowPush: true, listenHost: host, tls: true })).rejects.toThrow(/^--allow-push while listening on .*needs --htpasswd FILE or --client-ca FILE/)
    }
    await expect(loadWriteGate({ allowPush: true, listenHost: '0.0.0.0', tls: true })).rejects.toBeInstanceOf(UsageError)
    await expect(loadWriteGate({ allowPush: true, listenHost: '0.0.0.0', tls: true, clientCa: true })).resolves.toBeDefined()
    await expect(loadWriteGate({ allowPush: false, listenHost: '0.0.0.0', tls: false })).resolves.toBeDefined()
  })

  it('counts 127.0.0.0/8, ::1 (any spelling) and localhost as loopback, and nothing else', () => {
    for (const host of ['127.0.0.1', '127.9.8.7', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) expect(isLoopbackHost(host), host).toBe(true)
    for (const host of ['0.0.0.0', '::', '128.0.0.1', '192.168.1.1', 'localhost.example', '', 'fe80::1']) expect(isLoopbackHost(host), host).toBe(false)
  })

  it('--client-ca without TLS', async () => {
    await expect(gateOn({ clientCa: true })).rejects.toThrow(/^--client-ca needs --tls-cert and --tls-key/)
    await expect(loadWriteGate({ allowPush: false, clientCa: true, listenHost: '127.0.0.1', tls: false })).rejects.toBeInstanceOf(UsageError)
  })

  it('an htpasswd file that is missing, has a malformed line, or a non-bcrypt entry, naming the line but not its text', async () => {
    await expect(gateOn({ htpasswdFile: join(dir, 'absent') })).rejects.toThrow(/^--htpasswd .*absent: cannot read it \(ENOENT\)$/)
    const colonless = await htpasswd('colonless', ['# users', '', `alice:${alice}`, 'bob'])
    await expect(gateOn({ htpasswdFile: colonless })).rejects.toThrow(/line 4 is not USER:HASH$/)
    await expect(gateOn({ htpasswdFile: await htpasswd('nameless', [`:${alice}`]) })).rejects.toThrow(/line 1 is not USER:HASH$/)
    for (const hash of ['$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/', '{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=', 'plain', '$2x$04$abcdefghijklmnopqrstuu', `${alice}x`, alice.replace('$04$', '$99$')]) {
      const file = await htpasswd('weak', [`alice:${alice}`, `bob:${hash}`])
      const err: unknown = await gateOn({ htpasswdFile: file }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(UsageError)
      expect((err as Error).message).toMatch(/line 2: the entry for "bob" is not a bcrypt hash/)
      expect((err as Error).message).not.toContain(hash)
    }
  })

  it('accepts $2a$, $2b$ and $2y$ entries, comments, blank lines and CRLF; a later line for a user wins', async () => {
    const file = join(dir, 'crlf')
    await writeFile(file, `# admins\r\n\r\nalice:${carol}\r\nalice:${alice}\r\nbob:${bob}\r\ncarol:${carol}\r\n`)
    const gate = await gateOn({ htpasswdFile: file })
    expect(gate.summary).toMatch(/\(3 now\)/)
    await gate.authorizeWrite(req(basic('alice', 'wonderland')))
    await gate.authorizeWrite(req(basic('bob', 'builder')))
    await gate.authorizeWrite(req(basic('carol', 'singer')))
    await expectRefused(gate.authorizeWrite(req(basic('alice', 'singer'))), 'UNAUTHORIZED')
  })
})

describe('the gate', () => {
  it('without --allow-push refuses every write, saying how to turn pushes on; --htpasswd then guards nothing', async () => {
    const gate = await loadWriteGate({ allowPush: false, htpasswdFile: await htpasswd('off', [`alice:${alice}`]), listenHost: '127.0.0.1', tls: false })
    const err = await expectRefused(gate.authorizeWrite(req(basic('alice', 'wonderland'))), 'UNSUPPORTED')
    expect(err.detail).toMatch(/--allow-push/)
    await gate.authorizeBase(req()) // no challenge: nothing here can be written anyway
    expect(gate.summary).toBe('pushes: refused (start with --allow-push to accept them); --htpasswd guard nothing until then')
  })

  it('with --allow-push on loopback and nothing else, lets every write through', async () => {
    const gate = await gateOn()
    await gate.authorizeWrite(req())
    await gate.authorizeBase(req())
    expect(gate.summary).toBe('pushes: open to every client (listening on loopback only)')
  })

  it('with --htpasswd: no, wrong, unknown, malformed or non-Basic credentials are a 401 with the Basic challenge; right ones pass', async () => {
    const gate = await gateOn({ htpasswdFile: await htpasswd('users', [`alice:${alice}`, `bob:${bob}`]), realm: 'ipcr "test"' })
    const missing = await expectRefused(gate.authorizeWrite(req()), 'UNAUTHORIZED')
    expect(missing.status).toBe(401)
    expect(missing.headers).toEqual({ 'www-authenticate': 'Basic realm="ipcr \\"test\\""' })
    expect(missing.detail).toMatch(/needs Basic credentials/)
    for (const auth of [basic('alice', 'builder'), basic('mallory', 'wonderland'), basic('', ''), 'Basic !!!', `Basic ${Buffer.from('alice').toString('base64')}`, 'Bearer abc']) {
      const err = await expectRefused(gate.authorizeWrite(req(auth)), 'UNAUTHORIZED')
      expect(err.detail, auth).toMatch(/^wrong user name or password/)
      expect(err.headers['www-authenticate']).toBe('Basic realm="ipcr \\"test\\""')
    }
    await gate.authorizeWrite(req(basic('alice', 'wonderland')))
    await gate.authorizeWrite(req(`basic  ${Buffer.from('bob:builder').toString('base64')}`))
    // A certificate counts for nothing unless --client-ca is set.
    await expectRefused(gate.authorizeWrite(req(undefined, true)), 'UNAUTHORIZED')
  })

  it('GET /v2/ with --htpasswd: no credentials get the challenge, right ones pass, wrong ones 401; without --htpasswd it passes', async () => {
    const gate = await gateOn({ htpasswdFile: await htpasswd('base', [`alice:${alice}`]) })
    const err = await expectRefused(gate.authorizeBase(req()), 'UNAUTHORIZED')
    expect(err.headers).toEqual({ 'www-authenticate': 'Basic realm="ipcr"' })
    await gate.authorizeBase(req(basic('alice', 'wonderland')))
    await expectRefused(gate.authorizeBase(req(basic('alice', 'nope'))), 'UNAUTHORIZED')
    await (await gateOn()).authorizeBase(req())
    await (await gateOn({ clientCa: true, tls: true })).authorizeBase(req())
  })

  it('with --client-ca only: a verified certificate passes; none, or an unverified one, is DENIED (there is no challenge to send)', async () => {
    const gate = await gateOn({ clientCa: true, tls: true, listenHost: '0.0.0.0' })
    await gate.authorizeWrite(req(undefined, true))
    expect((await expectRefused(gate.authorizeWrite(req(undefined, false)), 'DENIED')).status).toBe(403)
    await expectRefused(gate.authorizeWrite(req()), 'DENIED')
    expect(gate.summary).toBe('pushes: accepted from a TLS client certificate signed by --client-ca')
  })

  it('with both, either passes; neither is a 401 whose challenge leaves the password route open', async () => {
    const gate = await gateOn({ clientCa: true, tls: true, htpasswdFile: await htpasswd('both', [`alice:${alice}`]) })
    await gate.authorizeWrite(req(undefined, true))
    await gate.authorizeWrite(req(basic('alice', 'wonderland'), false))
    await gate.authorizeBase(req(undefined, true))
    const err = await expectRefused(gate.authorizeWrite(req(undefined, false)), 'UNAUTHORIZED')
    expect(err.detail).toMatch(/or a TLS client certificate/)
  })

  it('warns in its summary when passwords would cross the network in plain HTTP', async () => {
    const gate = await loadWriteGate({ allowPush: true, listenHost: '0.0.0.0', tls: false, htpasswdFile: await htpasswd('clear', [`alice:${alice}`]) })
    expect(gate.summary).toMatch(/in the clear: add --tls-cert\/--tls-key$/)
  })

  it('reads Basic credentials as RFC 7617 does: split at the first colon, UTF-8', () => {
    expect(basicCredentials(basic('ü', 'a:b'))).toEqual({ user: 'ü', password: 'a:b' })
    expect(basicCredentials(undefined)).toBeUndefined()
    expect(basicCredentials('Digest x')).toBeUndefined()
  })
})

describe('bcrypt and its cache', () => {
  it('verifies a user once; the same credentials again cost no bcrypt, until the cache entry expires', async () => {
    let now = 1_000_000
    const gate = await gateOn({ htpasswdFile: await htpasswd('cache', [`alice:${alice}`]), now: () => now })
    const compare = vi.spyOn(bcryptCheck, 'compare')
    await gate.authorizeWrite(req(basic('alice', 'wonderland')))
    await gate.authorizeWrite(req(basic('alice', 'wonderland')))
    expect(compare).toHaveBeenCalledTimes(1)
    now += 5 * 60_000 + 1
    await gate.authorizeWrite(req(basic('alice', 'wonderland')))
    expect(compare).toHaveBeenCalledTimes(2)
  })

  it('never caches a failure, spends a bcrypt on an unknown user too, and serves concurrent requests with one bcrypt', async () => {
    const gate = await gateOn({ htpasswdFile: await htpasswd('fail', [`alice:${alice}`]) })
    const compare = vi.spyOn(bcryptCheck, 'compare')
    for (let i = 0; i < 2; i++) await expectRefused(gate.authorizeWrite(req(basic('alice', 'guess'))), 'UNAUTHORIZED')
    expect(compare).toHaveBeenCalledTimes(2)
    await expectRefused(gate.authorizeWrite(req(basic('mallory', 'guess'))), 'UNAUTHORIZED')
    expect(compare).toHaveBeenCalledTimes(3)
    compare.mockClear()
    await Promise.all(Array.from({ length: 8 }, () => gate.authorizeWrite(req(basic('alice', 'wonderland')))))
    expect(compare).toHaveBeenCalledTimes(1)
  })
})

describe('reloading the htpasswd file', () => {
  async function touch(file: string, lines: string[], seconds: number): Promise<void> {
    await writeFile(file, `${lines.join('\n')}\n`)
    await utimes(file, seconds, seconds) // a distinct mtime even on a coarse-grained filesystem
  }

  it('sees a user added, at most a second after, and a changed password drops what the cache remembered', async () => {
    let now = 1_000_000
    const notes: string[] = []
    const file = await htpasswd('reload', [`alice:${alice}`])
    const gate = await gateOn({ htpasswdFile: file, now: () => now, notify: (m) => notes.push(m) })
    await gate.authorizeWrite(req(basic('alice', 'wonderland')))
    await touch(file, [`alice:${carol}`, `bob:${bob}`], 1_700_000_000)
    await expectRefused(gate.authorizeWrite(req(basic('bob', 'builder'))), 'UNAUTHORIZED') // checked less than a second ago
    now += 1000
    await gate.authorizeWrite(req(basic('bob', 'builder')))
    await expectRefused(gate.authorizeWrite(req(basic('alice', 'wonderland'))), 'UNAUTHORIZED')
    await gate.authorizeWrite(req(basic('alice', 'singer')))
    expect(notes).toEqual([`--htpasswd ${file} changed: 2 user(s) now`])
  })

  it('keeps the users it had when a reload fails, says so once, and never logs the file\'s text', async () => {
    let now = 1_000_000
    const notes: string[] = []
    const file = await htpasswd('broken', [`alice:${alice}`])
    const gate = await gateOn({ htpasswdFile: file, now: () => now, notify: (m) => notes.push(m) })
    await touch(file, [`alice:${alice}`, 'bob:$apr1$secret$abc'], 1_700_000_000)
    for (let i = 0; i < 3; i++) {
      now += 1000
      await gate.authorizeWrite(req(basic('alice', 'wonderland')))
    }
    expect(notes).toHaveLength(1)
    expect(notes[0]).toMatch(/line 2: the entry for "bob" is not a bcrypt hash.*; keeping the 1 user\(s\) loaded before$/)
    expect(notes.join('\n')).not.toMatch(/secret|abc/)
    expect(notes.join('\n')).not.toContain(alice)
    await rm(file)
    now += 1000
    await gate.authorizeWrite(req(basic('alice', 'wonderland')))
    expect(notes[1]).toMatch(/cannot stat it \(ENOENT\); keeping the 1 user\(s\) loaded before$/)
    await touch(file, [`bob:${bob}`], 1_700_000_100)
    now += 1000
    await gate.authorizeWrite(req(basic('bob', 'builder')))
    await expectRefused(gate.authorizeWrite(req(basic('alice', 'wonderland'))), 'UNAUTHORIZED')
  })
})

describe('serveOptionsFrom (the flags of registry serve)', () => {
  const flags = { listen: '127.0.0.1:0', resolveTimeout: '2s', logFormat: 'text', uploadTtl: '1h', ipnsLifetime: '48h', ipnsTtl: '5m', estargz: false, allowDelete: false }
  it('refuses --client-ca without TLS, and an unreadable or non-PEM CA bundle', async () => {
    await expect(serveOptionsFrom({ ...flags, clientCa: '/nonexistent' }, () => {})).rejects.toThrow(/^--client-ca needs --tls-cert/)
    const { cert, key } = await certs()
    const tls = { tlsCert: cert, tlsKey: key }
    await expect(serveOptionsFrom({ ...flags, ...tls, clientCa: join(dir, 'absent.pem') }, () => {})).rejects.toThrow(/^--client-ca .*absent.pem: cannot read it \(ENOENT\)$/)
    await expect(serveOptionsFrom({ ...flags, ...tls, clientCa: key }, () => {})).rejects.toThrow(/^--client-ca .*: expected a PEM CA bundle/)
    await expect(serveOptionsFrom({ ...flags, listen: '0.0.0.0:0', allowPush: true }, () => {})).rejects.toThrow(/^--allow-push/)
    const o = await serveOptionsFrom({ ...flags, ...tls, clientCa: (await certs()).ca, allowPush: true }, () => {})
    expect(o.tls?.clientCa?.toString()).toMatch(/BEGIN CERTIFICATE/)
  })
})

// ---- A real server: HTTPS asking for client certificates, and plain HTTP with --htpasswd. ----

let made: Promise<{ ca: string; cert: string; key: string; client: { cert: string; key: string }; rogue: { cert: string; key: string } }> | undefined

/** A CA, a server certificate for 127.0.0.1, a client certificate it signed, and one from another CA. */
function certs(): NonNullable<typeof made> {
  made ??= (async () => {
    const openssl = (args: string[]): Promise<unknown> => promisify(execFile)('openssl', args, { cwd: dir })
    const server = await makeServerCert(dir)
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n')
    await openssl(['req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=pusher'])
    await openssl(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2', '-extfile', 'client.ext'])
    await openssl(['req', '-x509', ...ec, '-keyout', 'rogue.key', '-out', 'rogue.crt', '-subj', '/CN=pusher', '-days', '2', '-addext', 'extendedKeyUsage=clientAuth'])
    return { ...server, client: { cert: join(dir, 'client.crt'), key: join(dir, 'client.key') }, rogue: { cert: join(dir, 'rogue.crt'), key: join(dir, 'rogue.key') } }
  })()
  return made
}

const untouched = (): never => { throw new Error('a refused write must not reach storage') }
const storage = { manifests: { manifest: vi.fn(untouched) }, blobs: { stat: vi.fn(untouched) }, reader: { read: vi.fn(untouched) }, tags: { tags: vi.fn(untouched) }, referrers: { referrers: vi.fn(untouched) } }

async function serve(gate: WriteGate, tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer }): Promise<Awaited<ReturnType<typeof serveRegistry>>> {
  const deps: RegistryDeps = { ...storage, health: { healthy: async () => true }, metrics: new RegistryMetrics(), gate }
  return serveRegistry(deps, { host: '127.0.0.1', port: 0, ...(tls ? { tls } : {}), drainMs: 1000 })
}

interface Answer { status: number; headers: Record<string, string | string[] | undefined>; body: { errors?: Array<{ code: string; detail: unknown }> } }

function send(url: string, method: string, o: { ca?: Buffer; cert?: Buffer; key?: Buffer; auth?: string } = {}): Promise<Answer> {
  const { ca, cert, key, auth } = o
  return new Promise((resolve, reject) => {
    const opts = { method, agent: false as const, headers: auth ? { authorization: auth } : {}, ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) }
    const r = (url.startsWith('https:') ? httpsRequest : httpRequest)(url, opts, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text.startsWith('{') ? JSON.parse(text) as Answer['body'] : {} })
      })
    })
    r.on('error', reject)
    r.end()
  })
}

describe('registry serve with the gate', () => {
  it('over HTTPS with --client-ca: reads need no certificate; a write without one (or with a stranger\'s) is DENIED; with one it passes the gate', async () => {
    const c = await certs()
    const [ca, cert, key] = await Promise.all([readFile(c.ca), readFile(c.cert), readFile(c.key)])
    const client = { cert: await readFile(c.client.cert), key: await readFile(c.client.key) }
    const rogue = { cert: await readFile(c.rogue.cert), key: await readFile(c.rogue.key) }
    const server = await serve(await gateOn({ clientCa: true, tls: true }), { cert, key, clientCa: ca })
    try {
      expect((await send(`${server.url}/v2/`, 'GET', { ca })).status).toBe(200)
      for (const who of [{}, rogue]) {
        const denied = await send(`${server.url}/v2/app/blobs/uploads/`, 'POST', { ca, ...who })
        expect(denied.status).toBe(403)
        expect(denied.body.errors?.[0]?.code).toBe('DENIED')
      }
      const passed = await send(`${server.url}/v2/app/blobs/uploads/`, 'POST', { ca, ...client })
      // Past the gate, today's read-only server refuses the upload itself.
      expect(passed.status).toBe(405)
      expect(passed.body.errors?.[0]?.detail).toMatch(/read-only/)
    } finally {
      await server.close()
    }
  })

  it('over HTTPS with --client-ca and --htpasswd: no certificate and no password is 401 with the challenge; either one passes', async () => {
    const c = await certs()
    const [ca, cert, key] = await Promise.all([readFile(c.ca), readFile(c.cert), readFile(c.key)])
    const client = { cert: await readFile(c.client.cert), key: await readFile(c.client.key) }
    const server = await serve(await gateOn({ clientCa: true, tls: true, htpasswdFile: await htpasswd('https', [`alice:${alice}`]) }), { cert, key, clientCa: ca })
    try {
      const refused = await send(`${server.url}/v2/app/manifests/1`, 'PUT', { ca })
      expect(refused.status).toBe(401)
      expect(refused.headers['www-authenticate']).toBe('Basic realm="ipcr"')
      expect((await send(`${server.url}/v2/`, 'GET', { ca })).status).toBe(401)
      expect((await send(`${server.url}/v2/`, 'GET', { ca, ...client })).status).toBe(200)
      expect((await send(`${server.url}/v2/app/manifests/1`, 'PUT', { ca, ...client })).status).toBe(405)
      expect((await send(`${server.url}/v2/app/manifests/1`, 'PUT', { ca, auth: basic('alice', 'wonderland') })).status).toBe(405)
    } finally {
      await server.close()
    }
  })

  it('over HTTP with --htpasswd: the ping and writes are 401 without credentials, other reads are not asked, and a refusal touches no storage', async () => {
    const server = await serve(await gateOn({ htpasswdFile: await htpasswd('http', [`alice:${alice}`]) }))
    try {
      for (const [method, path] of [['POST', '/v2/app/blobs/uploads/'], ['PUT', '/v2/app/manifests/1'], ['DELETE', '/v2/app/manifests/1'], ['PATCH', '/v2/app/blobs/uploads/x'], ['GET', '/v2/'], ['HEAD', '/v2/']] as const) {
        const a = await send(`${server.url}${path}`, method, { auth: basic('alice', 'wrong') })
        expect(a.status, `${method} ${path}`).toBe(401)
        expect(a.headers['www-authenticate']).toBe('Basic realm="ipcr"')
      }
      expect(Object.values(storage).flatMap((role) => Object.values(role)).every((fn) => fn.mock.calls.length === 0)).toBe(true)
      expect((await send(`${server.url}/healthz`, 'GET')).status).toBe(200)
      expect((await send(`${server.url}/v2/app/tags/list`, 'GET')).status).toBe(500) // reached storage (a stub that throws): reads are not gated
    } finally {
      await server.close()
    }
  })

  it('without --allow-push: a write is 405 UNSUPPORTED, naming the flag', async () => {
    const server = await serve(await loadWriteGate({ allowPush: false, listenHost: '127.0.0.1', tls: false }))
    try {
      const a = await send(`${server.url}/v2/app/blobs/uploads/`, 'POST')
      expect(a.status).toBe(405)
      expect(a.headers.allow).toBe('') // the upload endpoint answers no method at all while pushes are off
      expect(a.body.errors?.[0]?.detail).toMatch(/--allow-push/)
    } finally {
      await server.close()
    }
  })
})
