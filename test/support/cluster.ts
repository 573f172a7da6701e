// Private kubo clusters in network namespaces for e2e tests (src/testkit/cluster.ts does the work):
// the swarm key comes from our own `ipcr ipfs swarm-key`, kubo from the rig's build.
import { join } from 'node:path'
import { createCluster, runCommand, type Cluster, type ClusterNode, type ClusterOptions, type RunResult } from '../../src/testkit/cluster.js'
import { fileURLToPath } from 'node:url'
import { ipcr } from './ipcr.js'
import { rigEnv } from './rig.js'

export type { Cluster, ClusterNode }

export const ipcrBin = fileURLToPath(new URL('../../bin/ipcr', import.meta.url))

/** The rig's kubo binary: the first bin dir the rig puts on PATH holds `ipfs`. */
export function rigIpfsBin(): string {
  return join(rigEnv().IPCR_RIG_BIN.split(':')[0] as string, 'ipfs')
}

export async function newSwarmKeyViaCli(): Promise<string> {
  const r = await ipcr(['ipfs', 'swarm-key'])
  if (r.code !== 0) throw new Error(`ipcr ipfs swarm-key failed: ${r.stderr}`)
  return `${r.stdout.trim()}\n`
}

/** A cluster of kubo nodes sharing a fresh swarm key, connected to each other. */
export async function kuboCluster(names: string[], o: Partial<ClusterOptions> = {}): Promise<Cluster> {
  const cluster = await createCluster({ nodes: names, ipfsBin: rigIpfsBin(), swarmKey: await newSwarmKeyViaCli(), ...o })
  try {
    await cluster.connectAll(o.swarmKeys ? names.filter((n) => !(n in (o.swarmKeys ?? {}))) : undefined)
  } catch (err) {
    await cluster.destroy()
    throw err
  }
  return cluster
}

/** Network namespaces with no kubo, for servers the test starts itself. */
export function bareCluster(names: string[]): Promise<Cluster> {
  return createCluster({ nodes: names, kubo: false })
}

/** The built CLI run inside a node's network namespace (containerd's socket is a file: still reachable). */
export function ipcrIn(node: ClusterNode, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return node.exec(ipcrBin, [...args], opts)
}

/**
 * Take a node off the network: its eth0 goes down inside its namespace, so every packet to it is
 * lost while its peers keep their connections (TCP learns nothing) and still count it as a peer: a
 * query sent to it waits rather than failing. Resolves to the function that plugs it back in (the
 * kernel restores the subnet route when the link comes up).
 */
export async function unplug(node: ClusterNode): Promise<() => Promise<void>> {
  const link = async (state: 'up' | 'down'): Promise<void> => {
    const r = await runCommand('ip', ['-n', node.netns, 'link', 'set', 'eth0', state])
    if (r.code !== 0) throw new Error(`ip -n ${node.netns} link set eth0 ${state} failed: ${r.stderr}`)
  }
  await link('down')
  return () => link('up')
}
