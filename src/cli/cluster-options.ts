import { Option, type Command } from 'commander'
import type { ClusterTarget } from '../cluster/pin-image.js'
import { UsageError } from '../errors.js'

/**
 * `--cluster URL` and, where the command pins (`pin`), the replication factors; a command that only
 * asks the cluster (`ask`) takes the URL alone.
 */
export function addClusterOptions(cmd: Command, use: 'pin' | 'ask' = 'pin'): Command {
  const what = use === 'pin' ? 'also pin every CID of the image through this IPFS Cluster REST API' : 'the IPFS Cluster REST API to ask'
  cmd.addOption(new Option('--cluster <url>', `${what} (http://HOST:9094 or /ip4/HOST/tcp/9094)`).env('IPCR_CLUSTER_API'))
  if (use === 'ask') return cmd
  return cmd
    .option('--replication-min <n>', 'copies the cluster keeps at least, re-pinning elsewhere when a holder goes (default: --replication-max, else the cluster\'s own setting)')
    .option('--replication-max <n>', 'copies the cluster keeps at most (default: --replication-min, else the cluster\'s own setting)')
}

function factor(value: unknown, flag: string): number {
  if (value === undefined) return 0 // IPFS Cluster reads 0 as "the cluster's default"
  const n = Number(value)
  if (!Number.isInteger(n) || n < -1 || n === 0) throw new UsageError(`${flag} takes a whole number of copies, 1 or more (-1: every peer), not "${String(value)}"`)
  return n
}

/** The cluster to pin into, or undefined; replication flags without --cluster are refused. */
export function clusterTargetFrom(opts: Record<string, unknown>): ClusterTarget | undefined {
  const url = opts.cluster as string | undefined
  const min = factor(opts.replicationMin, '--replication-min')
  const max = factor(opts.replicationMax, '--replication-max')
  if (url === undefined) {
    if (opts.replicationMin !== undefined || opts.replicationMax !== undefined) throw new UsageError('--replication-min/--replication-max need --cluster (or IPCR_CLUSTER_API)')
    return undefined
  }
  // One factor alone stands for both (IPFS Cluster refuses a minimum above a maximum it defaults):
  // --replication-min 2 keeps exactly two copies, re-pinning elsewhere when one goes.
  return { url, replication: { min: min || max, max: max || min } }
}
