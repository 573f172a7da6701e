import { Command, CommanderError, Option } from 'commander'
import { IpcrError, UsageError } from '../errors.js'
import { addEstargzOptions } from './estargz-options.js'
import { stopCleanlyOnSignals } from './interrupt.js'
import { addLimitOptions, allLimits, jsonLimits } from './limit-options.js'
import type { CommandResult, GlobalOptions } from './globals.js'
import { log } from './log.js'

type Run = (args: string[], opts: Record<string, unknown>, globals: GlobalOptions) => Promise<CommandResult>

/**
 * Lazy-load a command module when (and only when) it runs, so `ipcr --help` stays fast. Signals
 * stop a command cleanly (cli/interrupt.ts) unless it handles them itself (`ownSignals`).
 */
function lazy(load: () => Promise<{ run: Run }>, o: { ownSignals?: boolean } = {}) {
  return async function (this: Command, ...params: unknown[]): Promise<void> {
    const cmd = params[params.length - 1] as Command
    const opts = cmd.opts()
    const globals = cmd.optsWithGlobals() as unknown as GlobalOptions
    log.debugEnabled = globals.debug
    if (o.ownSignals !== true) stopCleanlyOnSignals()
    const { run } = await load()
    const result = await run(cmd.args, opts, globals)
    if (opts.json === true && result.json !== undefined) process.stdout.write(`${JSON.stringify(result.json, null, 2)}\n`)
    else if (result.text !== undefined && result.text !== '') process.stdout.write(result.text.endsWith('\n') ? result.text : `${result.text}\n`)
    if (result.exitCode !== undefined) process.exitCode = result.exitCode
  }
}

function parseBool(name: string) {
  return (value: string | undefined): boolean => {
    if (value === undefined || value === 'true' || value === '1') return true
    if (value === 'false' || value === '0') return false
    throw new UsageError(`--${name} takes true or false, not "${value}"`)
  }
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

export function buildProgram(): Command {
  const program = new Command('ipcr')
    .description('Move OCI container images through IPFS: push, pull lazily and run them with containerd')
    .version('0.1.0')
    .addOption(new Option('-a, --address <path>', 'containerd socket').env('CONTAINERD_ADDRESS').default('/run/containerd/containerd.sock'))
    .addOption(new Option('-n, --namespace <ns>', 'containerd namespace').env('CONTAINERD_NAMESPACE').default('default'))
    .addOption(new Option('--ipfs-api <multiaddr|url>', 'kubo RPC API (default: the api file in $IPFS_PATH, else ~/.ipfs; no kubo: the embedded store)'))
    .option('--debug', 'print debug logs and stacks', false)
    .showHelpAfterError(false)
    .configureOutput({ outputError: (str, write) => write(`ipcr: ${str.replace(/^error: /, '').trim()}\n`) })
    .exitOverride()

  const image = program.command('image').alias('i').description('manage images').exitOverride()

  addLimitOptions(addEstargzOptions(image.command('ipfs-push')), allLimits)
    .description('push an image to IPFS as an IPFS-enabled image; prints the CID of its root descriptor')
    .argument('<image>', 'containerd image NAME, oci-layout:DIR[:TAG] or docker-archive:FILE[:REF]')
    .addOption(new Option('--estargz [bool]', 'convert layers to eStargz (--estargz=false keeps them as they are)').argParser(parseBool('estargz')).default(true))
    .option('--platform <platform>', 'push only this platform (repeatable; default: this host only)', collect)
    .option('--all-platforms', 'push every platform', false)
    .option('--json', 'print a machine-readable result', false)
    .addOption(new Option('--ipns [bool]', 'also publish the image reference via IPNS (--ipns=false to skip)').argParser(parseBool('ipns')).default(true))
    .option('--ref <reference>', 'the reference to publish, NAME:TAG or NAME@sha256:DIGEST (default: the containerd name as typed, or the layout\'s image name)')
    .option('--ipns-key <name>', 'publish under this existing kubo key instead of the key derived from the reference')
    .option('--ipns-lifetime <duration>', 'how long the IPNS record stays valid', '48h')
    .option('--ipns-ttl <duration>', 'how long resolvers may cache the record', '5m')
    .option('--car <file>', 'write every block into this CARv1 file instead of IPFS (no daemon needed; load it with `ipcr ipfs import`)')
    .addHelpText('after', '\nThe IPNS key of a reference is derived from the reference itself (SHA-256 of it seeds an Ed25519 key), so\nanyone who knows the reference can publish under it: this gives discovery, not authenticity. For\nauthenticity publish with --ipns-key under a kubo key only you hold, and pull with /ipns/<that key\'s name>.\n')
    .addHelpText('after', '\nExamples:\n  ipcr i ipfs-push --estargz=false docker.io/library/alpine:3.20\n  CID=$(ipcr i ipfs-push oci-layout:./build/image:latest)')
    .exitOverride()
    .action(lazy(() => import('../commands/image-ipfs-push.js')))

  addLimitOptions(addEstargzOptions(image.command('convert')), allLimits)
    .description('convert an image to eStargz (as ctr-remote image convert --estargz --oci)')
    .argument('<src>', 'containerd image NAME, oci-layout:DIR[:TAG] or docker-archive:FILE[:REF]')
    .argument('<dst>', 'containerd image NAME or oci-layout:DIR[:TAG]')
    .option('--estargz', 'convert layers to eStargz')
    .option('--oci', 'write OCI media types (always done; accepted for ctr-remote compatibility)')
    .option('--platform <platform>', 'convert only this platform (repeatable; default: this host)', collect)
    .option('--all-platforms', 'convert every platform', false)
    .option('--json', 'print a machine-readable result', false)
    .addHelpText('after', '\nExample:\n  ipcr i convert --estargz --estargz-record-in prio.txt docker.io/library/python:3.12 oci-layout:./python-esgz:3.12')
    .exitOverride()
    .action(lazy(() => import('../commands/image-convert.js')))

  addLimitOptions(image.command('rpull'), jsonLimits)
    .description('pull an IPFS-enabled image into containerd and unpack it (lazily with the stargz snapshotter)')
    .argument('[ref]', 'root CID, ipfs://CID, /ipfs/CID, /ipns/NAME, ipns://NAME or an image reference NAME:TAG or NAME@sha256:DIGEST published by ipfs-push (with --car: default the CAR\'s first root)')
    .option('--ipfs', 'pull through IPFS (the only source ipcr knows; accepted for ctr-remote compatibility)')
    .option('--gateway <url>', 'fetch through this trustless HTTP gateway instead of kubo, verifying every block (repeatable; tried in order)', collect)
    .option('--car <file>', 'pull straight from a CAR file (from ipfs-push --car), verifying every block')
    .addOption(new Option('--pin [bool]', 'pin what was fetched on the kubo node, so it serves the image to its peers (--pin=false to skip)').argParser(parseBool('pin')).default(true))
    .addOption(new Option('--snapshotter <name>', 'snapshotter to unpack into (default: stargz if containerd has it, else overlayfs)').env('CONTAINERD_SNAPSHOTTER'))
    .option('--platform <platform>', 'platform to pull (default: this host)', collect)
    .option('--timeout <duration>', 'give up when the root cannot be found within this long', '60s')
    .option('--json', 'print a machine-readable result', false)
    .addHelpText('after', '\nExamples:\n  ipcr i rpull --ipfs bafkreie7754qk7fl56ebauawdgfuqqa3kdd7sotvuhsm6wbz3qin6ssw3a\n  ipcr i rpull --snapshotter=overlayfs --ipfs ipfs://bafkrei...\n  ipcr i rpull --ipfs bafkrei... --gateway http://10.0.0.5:8080\n  ipcr i rpull --car image.car')
    .exitOverride()
    .action(lazy(() => import('../commands/image-rpull.js')))

  addLimitOptions(image.command('copy'), jsonLimits)
    .description('copy an image between locations, verifying every blob (ipfs:CID works as a source)')
    .argument('<src>', 'containerd image NAME, oci-layout:DIR[:TAG], docker-archive:FILE[:REF] or ipfs:CID')
    .argument('<dst>', 'containerd image NAME or oci-layout:DIR[:TAG]')
    .option('--platform <platform>', 'copy only this platform (repeatable; default: this host)', collect)
    .option('--all-platforms', 'copy every platform', false)
    .option('--json', 'print a machine-readable result', false)
    .exitOverride()
    .action(lazy(() => import('../commands/image-copy.js')))

  image.command('ls').alias('list')
    .description('list images in containerd')
    .option('-q, --quiet', 'print only the names', false)
    .option('--ipfs', 'list the references this machine pushed to IPFS, with root CID, IPNS name and record expiry', false)
    .option('--json', 'print a machine-readable result', false)
    .exitOverride()
    .action(lazy(() => import('../commands/image-ls.js')))

  image.command('rm').alias('remove')
    .description('remove images from containerd (what only they referenced is garbage collected)')
    .argument('<name...>', 'image names as stored, e.g. a CID pulled with rpull')
    .exitOverride()
    .action(lazy(() => import('../commands/image-rm.js')))

  const ipns = program.command('ipns').description('image references through IPNS').exitOverride()
  ipns.command('name')
    .description('print the IPNS name an image reference is published under (computed locally)')
    .argument('<ref>', 'an image reference with a tag or digest, exactly as given to ipfs-push')
    .option('--json', 'print a machine-readable result', false)
    .exitOverride()
    .action(lazy(() => import('../commands/ipns-name.js')))
  ipns.command('republish')
    .description('publish pushed references again before their records expire (run from cron or a systemd timer)')
    .argument('[ref...]', 'references pushed from this machine')
    .option('--all', 'every reference this machine pushed', false)
    .option('--json', 'print a machine-readable result', false)
    .exitOverride()
    .action(lazy(() => import('../commands/ipns-republish.js')))

  const ipfs = program.command('ipfs').description('IPFS helpers').exitOverride()
  ipfs.command('cid')
    .description('print the CID kubo would give a file (ipfs add --cid-version=1 with default settings), computed locally')
    .argument('<file>', 'a file, or - for standard input')
    .exitOverride()
    .action(lazy(() => import('../commands/ipfs-cid.js')))
  ipfs.command('import')
    .description('load a CAR file (from ipfs-push --car) into kubo, pinning its roots, or into the embedded store; every block is checked first')
    .argument('<file>', 'a CARv1 file')
    .option('--json', 'print a machine-readable result', false)
    .exitOverride()
    .action(lazy(() => import('../commands/ipfs-import.js')))
  ipfs.command('serve')
    .description('serve the embedded store as a trustless gateway (GET/HEAD /ipfs/<cid>?format=raw|car) for rpull --gateway')
    .option('--listen <host:port>', 'address to listen on (port 0: any free port; the URL is printed on stdout)', '127.0.0.1:8080')
    .exitOverride()
    .action(lazy(() => import('../commands/ipfs-serve.js'), { ownSignals: true }))
  ipfs.command('swarm-key')
    .description('make a new private-network key in kubo\'s swarm.key format (see docs/private-network.md)')
    .option('-o, --output <file>', 'write it to this file (mode 0600) instead of stdout')
    .option('--force', 'overwrite an existing file', false)
    .exitOverride()
    .action(lazy(() => import('../commands/ipfs-swarm-key.js')))

  // `ipcr run IMAGE ID CMD ARGS...`: what follows the image belongs to the container's command
  // (`ls -a`, `echo -n`), so for run (only) global options count just before the subcommand, as ctr
  // takes them, and run's own options just before the image.
  const parseOptions = program.parseOptions.bind(program)
  program.parseOptions = (argv: string[]) => {
    program.enablePositionalOptions(true)
    const positional = parseOptions([...argv])
    if (positional.operands[0] === 'run') return positional
    program.enablePositionalOptions(false)
    return parseOptions(argv)
  }
  program.enablePositionalOptions(true) // run's passThroughOptions() requires it of its parent
  program.command('run')
    .description('run a container from an image in containerd, as ctr run does; exits with the container\'s exit code')
    .argument('<image>', 'image name in containerd, e.g. a CID pulled with rpull (ipfs://CID and /ipfs/CID work too)')
    .argument('<id>', 'container id')
    .argument('[command...]', 'command and arguments (default: the image\'s Entrypoint and Cmd)')
    .addOption(new Option('--snapshotter <name>', 'snapshotter for the rootfs (default: one the image is unpacked for, else overlayfs)').env('CONTAINERD_SNAPSHOTTER'))
    .option('--rm', 'remove the task, container and snapshot when it exits', false)
    .option('-t, --tty', 'give the container a terminal (the local one goes into raw mode)', false)
    .option('-d, --detach', 'start the task and return, leaving it running', false)
    .option('--env <KEY=VALUE>', 'set an environment variable (repeatable)', collect)
    .option('--env-file <file>', 'read environment variables from a file, one KEY=VALUE per line')
    .option('--cwd <dir>', 'working directory inside the container')
    .option('-u, --user <user[:group]>', 'user (name or uid) and group (name or gid) to run as, looked up in the image')
    .option('--mount <spec>', 'extra mount, e.g. type=bind,src=/tmp,dst=/host,options=rbind:ro (repeatable)', collect)
    .option('--net-host', 'use the host\'s network', false)
    .option('--read-only', 'make the rootfs read-only', false)
    .option('--memory-limit <bytes>', 'memory limit in bytes (k, m, g suffixes allowed)')
    .option('--label <KEY=VALUE>', 'container label, also a spec annotation (repeatable)', collect)
    .passThroughOptions()
    .addHelpText('after', '\nOptions go before IMAGE; everything after ID is the command.\n\nExamples:\n  ipcr run --rm -t bafkrei... foo sh\n  ipcr run --rm --snapshotter=overlayfs "$CID" test-1 ./run-tests')
    .exitOverride()
    .action(lazy(() => import('../commands/run.js'), { ownSignals: true }))
  program.enablePositionalOptions(false)

  const container = program.command('container').alias('c').description('manage containers').exitOverride()
  container.command('ls').alias('list')
    .description('list containers')
    .option('-q, --quiet', 'print only the ids', false)
    .option('--json', 'print a machine-readable result', false)
    .exitOverride()
    .action(lazy(() => import('../commands/container-ls.js')))
  container.command('rm').aliases(['delete', 'del'])
    .description('remove containers with their snapshots (and stopped tasks)')
    .argument('<id...>', 'container ids')
    .option('-f, --force', 'kill and remove a running task too', false)
    .exitOverride()
    .action(lazy(() => import('../commands/container-rm.js')))

  const task = program.command('task').alias('t').description('manage tasks').exitOverride()
  task.command('kill')
    .description('signal a container\'s task (default: its stop signal, SIGTERM unless the image says otherwise)')
    .argument('<id>', 'container id')
    .option('-s, --signal <signal>', 'signal name or number, e.g. SIGKILL or 9')
    .option('-a, --all', 'signal every process in the container', false)
    .exitOverride()
    .action(lazy(() => import('../commands/task-kill.js')))
  task.command('ls').alias('list')
    .description('list tasks')
    .option('-q, --quiet', 'print only the ids', false)
    .option('--json', 'print a machine-readable result', false)
    .exitOverride()
    .action(lazy(() => import('../commands/task-ls.js')))

  return program
}

/** Run the CLI; resolves to the exit code. Every failure becomes one line on stderr. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram()
  try {
    await program.parseAsync(argv)
    return typeof process.exitCode === 'number' ? process.exitCode : 0
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; real usage errors were already printed by commander.
      return err.exitCode === 0 ? 0 : 2
    }
    const debug = argv.includes('--debug')
    if (err instanceof IpcrError) {
      process.stderr.write(`ipcr: ${err.message}\n`)
      if (debug && err.stack) process.stderr.write(`${err.stack}\n`)
      return err.exitCode
    }
    const e = err as Error
    process.stderr.write(`ipcr: unexpected error: ${e?.message ?? String(err)}${debug ? '' : ' (run with --debug for details)'}\n`)
    if (debug && e?.stack) process.stderr.write(`${e.stack}\n`)
    return 1
  }
}
