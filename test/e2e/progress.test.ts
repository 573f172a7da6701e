// On a terminal, ipfs-push draws a live spinner and persists one line per blob (ora); off a
// terminal it prints plain lines. `script` gives the command a real pseudo-terminal.
import { describe, expect, it } from 'vitest'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildFixtures } from '../../src/testkit/index.js'
import { run } from '../support/rig.js'
import { ipcr } from '../support/ipcr.js'

const bin = fileURLToPath(new URL('../../bin/ipcr', import.meta.url))

describe('push progress', () => {
  it('is live on a terminal and plain otherwise', async () => {
    const fx = await buildFixtures(join(tmpdir(), 'ipcr-fixtures'))
    const env = { IPFS_PATH: await mkdtemp(join(tmpdir(), 'no-kubo-')), IPCR_ROOT: await mkdtemp(join(tmpdir(), 'ipcr-tty-')), TERM: 'xterm' }
    const cmd = `${bin} i ipfs-push --estargz=false --ipns=false oci-layout:${fx.single.layout}`
    // `script` makes a pty with no size; give it one, as a real terminal has.
    // ora does not animate when CI is set (as in our own CI), so the terminal runs go without it.
    const tty = await run('env', ['-u', 'CI', 'script', '-qec', `stty cols 120 rows 40; ${cmd}`, '/dev/null'], { env, timeoutMs: 60_000 })
    expect(tty.code, tty.stdout).toBe(0)
    expect(tty.stdout.match(/✔ sha256:[0-9a-f]{12}\.\.\. application\/vnd\.oci\.image\.\S+ ipfs:\/\/baf/g)).toHaveLength(3)
    expect(tty.stdout).toMatch(/\u001b\[/) // cursor control: the spinner redraws in place
    // A pty that reports no width gets plain lines, not a spinner that cannot measure its lines.
    const sizeless = await run('env', ['-u', 'CI', 'script', '-qec', cmd, '/dev/null'], { env, timeoutMs: 60_000 })
    expect(sizeless.code, sizeless.stdout.slice(0, 500)).toBe(0)
    expect(sizeless.stdout.match(/added sha256:[0-9a-f]{12}\.\.\. /g)).toHaveLength(3)
    const plain = await ipcr(['i', 'ipfs-push', '--estargz=false', '--ipns=false', `oci-layout:${fx.single.layout}`], { env })
    expect(plain.stderr.match(/^added sha256:[0-9a-f]{12}\.\.\. /gm)).toHaveLength(3)
    expect(plain.stderr).not.toMatch(/\u001b\[/)
  })
})
