// An ipcr server (`ipfs serve`, `registry serve`) as a child process: started on a free loopback
// port, ready once it prints its URL on stdout (what the commands do for port 0), stopped with
// SIGTERM. One helper for every test that needs one.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../../bin/ipcr', import.meta.url))

export interface IpcrServer {
  url: string
  /** host:port, as registry clients name it. */
  host: string
  proc: ChildProcess
  /** Everything it wrote on stderr so far (notes, access log). */
  stderr(): string
  /** SIGTERM and the exit code (undefined signal deaths as null). */
  stop(): Promise<number | null>
}

/** Run `ipcr ARGS…` (which must listen on 127.0.0.1:0 or a given port) with `env` added. */
export async function startIpcrServer(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<IpcrServer> {
  const proc = spawn(bin, [...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  proc.stderr?.on('data', (b: Buffer) => { err += b.toString() })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (b: Buffer) => {
      out += b.toString()
      const line = /^(https?:\/\/\S+)\n/m.exec(out)
      if (line?.[1]) resolve(line[1])
    })
    proc.once('exit', (code) => reject(new Error(`ipcr ${args.join(' ')} exited ${code} before listening:\n${err}`)))
  })
  return {
    url, host: new URL(url).host, proc, stderr: () => err,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode
      const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
      proc.kill('SIGTERM')
      return exited
    },
  }
}
