import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { describe, expect, it } from 'vitest'

const require = createRequire(import.meta.url)
const { nodeFlags } = require('../../bin/ipcr.cjs') as { nodeFlags: string[] }

describe('bin/ipcr', () => {
  it('starts node with the flags the code cache is trained with (V8 rejects a cache made under others)', () => {
    const exec = readFileSync(new URL('../../bin/ipcr', import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('exec node '))
    expect(exec).toEqual([`exec node ${nodeFlags.join(' ')} "\${self%/*}/ipcr.cjs" "$@"`])
  })
})
