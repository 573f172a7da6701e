// A real registry for e2e tests: CNCF distribution 2.8 (Debian's docker-registry, installed by
// scripts/rig.sh), on 127.0.0.1 at a free port, with its own config and storage in a temp dir.
//
//   plain    HTTP, no auth (what `ctr images pull --plain-http` and skopeo --tls-verify=false reach)
//   tls      HTTPS with a CA and server certificate made here with openssl (SAN IP:127.0.0.1),
//            plus htpasswd basic auth (bcrypt entry made by `htpasswd -B`, apache2-utils)
//   token    HTTP plus distribution's token auth: a token issuer served here in Node checks the
//            user's basic credentials and signs ES256 JWTs whose `x5c` header carries a self-signed
//            certificate that is the registry's `rootcertbundle` (distribution verifies the chain,
//            then the signature, then iss, aud = service, exp/nbf, and the access claims)
//
// stop() ends the registry and the issuer and removes the temp dir.
import { spawn, type ChildProcess } from 'node:child_process'
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto'
import { closeSync, openSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer as createHttpServer, type Server } from 'node:http'
import { createServer as createNetServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runOk } from './rig.js'

export type RegistryMode = 'plain' | 'tls' | 'token'

export interface TestRegistry {
  mode: RegistryMode
  /** `127.0.0.1:PORT`: what goes after docker:// and into auth files and certs.d. */
  host: string
  /** `http://127.0.0.1:PORT` or `https://…` */
  url: string
  /** The user the registry (or its token issuer) accepts; empty for plain. */
  user: string
  password: string
  /** tls: the CA that signed the server certificate. */
  caPath?: string
  /** tls: a certs.d-style base directory holding HOST/ca.crt (for the certDirs option). */
  certsDir?: string
  dir: string
  stop(): Promise<void>
}

/** A port nothing listens on right now (the registry binds it a moment later). */
async function freePort(): Promise<number> {
  const server = createNetServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await runOk('openssl', args, { cwd })
}

/** A CA and a server certificate for 127.0.0.1 signed by it (EC keys: fast to make). */
export async function makeServerCert(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await openssl(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=ipcr test CA', '-days', '2',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir)
  await openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir)
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n')
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext'], dir)
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') }
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url')

interface TokenIssuer { url: string; server: Server; certPath: string }

/**
 * The token server of distribution's token auth spec: GET /token?service=…&scope=… with Basic
 * credentials. Wrong credentials get 401; right ones a JWT granting the scopes asked for; no
 * credentials a JWT granting nothing (as Docker Hub does for private repositories).
 */
async function startTokenIssuer(dir: string, o: { service: string; issuer: string; user: string; password: string }): Promise<TokenIssuer> {
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'token.key', '-out', 'token.crt', '-subj', '/CN=ipcr test token issuer', '-days', '2'], dir)
  const key = createPrivateKey(await readFile(join(dir, 'token.key')))
  const x5c = new X509Certificate(await readFile(join(dir, 'token.crt'))).raw.toString('base64')
  const expected = `Basic ${Buffer.from(`${o.user}:${o.password}`).toString('base64')}`
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const auth = req.headers.authorization
    if (url.pathname !== '/token') { res.writeHead(404).end(); return }
    if (auth !== undefined && auth !== expected) { res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"details":"wrong credentials"}'); return }
    const access = auth === undefined ? [] : url.searchParams.getAll('scope').flatMap((scope) => {
      const [type, name, actions] = scope.split(':')
      return type && name && actions ? [{ type, name, actions: actions.split(',') }] : []
    })
    const now = Math.floor(Date.now() / 1000)
    const header = b64url(JSON.stringify({ typ: 'JWT', alg: 'ES256', x5c: [x5c] }))
    const claims = b64url(JSON.stringify({
      iss: o.issuer, sub: auth === undefined ? '' : o.user, aud: url.searchParams.get('service') ?? '',
      exp: now + 300, nbf: now - 10, iat: now, jti: randomUUID(), access,
    }))
    // JOSE wants ECDSA signatures as r||s, not DER.
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' })
    const token = `${header}.${claims}.${b64url(signature)}`
    // Half the issuers in the wild say access_token; the client takes either. This one says both.
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ token, access_token: token, expires_in: 300 }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}/token`, server, certPath: join(dir, 'token.crt') }
}

/** Wait until the registry answers /v2/ (any status: 401 means it is up and wants auth). */
async function waitUp(url: string, child: ChildProcess, log: () => Promise<string>, ca?: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}:\n${await log()}`)
    const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...(ca ? ['--cacert', ca] : []), `${url}/v2/`]
    const r = await runOk('curl', args).catch(() => undefined)
    if (r && r.stdout !== '000') return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`docker-registry did not answer at ${url} within 10 s:\n${await log()}`)
}

export async function startRegistry(mode: RegistryMode): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), `ipcr-registry-${mode}-`))
  const port = await freePort()
  const host = `127.0.0.1:${port}`
  const user = mode === 'plain' ? '' : 'ipcr-user'
  const password = mode === 'plain' ? '' : `pw-${randomUUID()}`
  const lines = [
    'version: 0.1',
    'log:', '  level: warn', '  accesslog:', '    disabled: true',
    'storage:', `  filesystem:`, `    rootdirectory: ${join(dir, 'data')}`, '  delete:', '    enabled: true',
    'http:', `  addr: ${host}`,
  ]
  let issuer: TokenIssuer | undefined
  let cert: { ca: string; cert: string; key: string } | undefined
  let certsDir: string | undefined
  if (mode === 'tls') {
    cert = await makeServerCert(dir)
    lines.push('  tls:', `    certificate: ${cert.cert}`, `    key: ${cert.key}`)
    const entry = await runOk('htpasswd', ['-Bbn', user, password])
    await writeFile(join(dir, 'htpasswd'), entry.stdout.trim() + '\n')
    lines.push('auth:', '  htpasswd:', '    realm: ipcr-test', `    path: ${join(dir, 'htpasswd')}`)
    certsDir = join(dir, 'certs.d')
    await runOk('mkdir', ['-p', join(certsDir, host)])
    await runOk('cp', [cert.ca, join(certsDir, host, 'ca.crt')])
  }
  if (mode === 'token') {
    const service = 'ipcr-test-registry'
    const iss = 'ipcr-test-issuer'
    issuer = await startTokenIssuer(dir, { service, issuer: iss, user, password })
    lines.push('auth:', '  token:', `    realm: ${issuer.url}`, `    service: ${service}`, `    issuer: ${iss}`, `    rootcertbundle: ${issuer.certPath}`)
  }
  const config = join(dir, 'config.yml')
  await writeFile(config, lines.join('\n') + '\n')
  const logPath = join(dir, 'registry.log')
  const out = openSync(logPath, 'a')
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', out, out] })
  closeSync(out) // the child has its own copy
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const url = `${mode === 'tls' ? 'https' : 'http'}://${host}`
  const log = (): Promise<string> => readFile(logPath, 'utf8').catch(() => '')
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
    if (issuer) await new Promise<void>((resolve) => issuer.server.close(() => resolve()))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await waitUp(url, child, log, cert?.ca)
  } catch (err) {
    await stop()
    throw err
  }
  return { mode, host, url, user, password, dir, stop, ...(cert ? { caPath: cert.ca } : {}), ...(certsDir ? { certsDir } : {}) }
}

/** An auth file (containers-auth.json) holding `user:password` for `host`. */
export async function writeAuthFile(path: string, host: string, user: string, password: string): Promise<string> {
  await writeFile(path, JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }))
  return path
}
