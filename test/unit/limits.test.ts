import { describe, expect, it } from 'vitest'
import { mkdtemp, readdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { Command } from 'commander'
import { addLimitOptions, allLimits, limitsFrom } from '../../src/cli/limit-options.js'
import { spoolLayer } from '../../src/estargz/spool.js'
import { defaultLimits, LimitExceededError, maxExpandedSize, layerRatioFloor } from '../../src/oci/limits.js'
import { tarBuffer } from '../../src/testkit/index.js'

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }

describe('image limits', () => {
  it('a layer may expand to 100 times its size, never below 1 GiB nor above the layer size limit', () => {
    expect(maxExpandedSize(10 << 20)).toBe(layerRatioFloor)
    expect(maxExpandedSize(100 << 20)).toBe(100 * (100 << 20))
    expect(maxExpandedSize(2 ** 40)).toBe(defaultLimits.layerSize)
    expect(maxExpandedSize(10 << 20, { ...defaultLimits, layerRatio: 1000 })).toBe(1000 * (10 << 20))
  })

  it('the spool stops at its size bound and when the disk runs short, naming the flag, and leaves no file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ipcr-spool-'))
    const tar = await tarBuffer([{ path: 'zeros.bin', type: 'file', content: Buffer.alloc(4 << 20) }])
    const bound = { bytes: 1 << 20, limit: 'layerRatio' as const, why: 'a test bound' }
    const spooled = spoolLayer(once(gzipSync(tar)), dir, undefined, { maxTarSize: bound })
    await expect(spooled).rejects.toBeInstanceOf(LimitExceededError)
    await expect(spooled).rejects.toThrow(/expands past 1 MiB \(a test bound\).*raise the limit with --max-layer-ratio\)$/)
    // More free space asked for than any disk has.
    const full = spoolLayer(once(tar), dir, undefined, { minFreeSpace: Number.MAX_SAFE_INTEGER })
    await expect(full).rejects.toThrow(new RegExp(`left free on the filesystem of ${dir}.*--min-free-space\\)$`))
    expect(await readdir(dir)).toEqual([])
    // Within the bounds it spools as before.
    const ok = await spoolLayer(once(gzipSync(tar)), dir, undefined, { maxTarSize: { ...bound, bytes: 8 << 20 }, minFreeSpace: 1 })
    expect(ok.entries.map((e) => e.name)).toEqual(['zeros.bin'])
    await ok.cleanup()
  })

  it('every limit has a flag; sizes and counts parse, bad values are refused naming the flag', async () => {
    const cmd = addLimitOptions(new Command('x').exitOverride(), allLimits)
    cmd.parse(['--max-config-size', '64MiB', '--max-layers', '10000', '--max-layer-ratio', '500', '--min-free-space', '1g'], { from: 'user' })
    expect(limitsFrom(cmd.opts())).toEqual({ ...defaultLimits, configSize: 64 << 20, layers: 10_000, layerRatio: 500, minFreeSpace: 1 << 30 })
    expect(() => limitsFrom({ maxManifestSize: 'big' })).toThrow('invalid --max-manifest-size "big"')
    expect(() => limitsFrom({ maxLayers: '0' })).toThrow('--max-layers takes a whole number of at least 1, not "0"')
    expect(cmd.helpInformation()).toContain('--max-layer-size <size>')
    expect(cmd.helpInformation()).toContain('(default 64GiB)')
  })
})
