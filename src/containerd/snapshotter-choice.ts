import type { ContainerdClient } from './client.js'

/**
 * --snapshotter, else CONTAINERD_SNAPSHOTTER, else `stargz` when containerd reports that snapshotter
 * working, else `overlayfs`. `why` is for the stderr line that says which one is used.
 */
export async function chooseSnapshotter(client: ContainerdClient, flag: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<{ name: string; why: string }> {
  if (flag) return { name: flag, why: 'from --snapshotter' }
  if (env.CONTAINERD_SNAPSHOTTER) return { name: env.CONTAINERD_SNAPSHOTTER, why: 'from CONTAINERD_SNAPSHOTTER' }
  const stargz = await client.introspection.snapshotter('stargz')
  if (stargz.present && stargz.ok) return { name: 'stargz', why: 'containerd has the stargz snapshotter' }
  return { name: 'overlayfs', why: stargz.present ? `the stargz snapshotter is not working (${stargz.error ?? 'unknown error'})` : 'containerd has no stargz snapshotter' }
}
