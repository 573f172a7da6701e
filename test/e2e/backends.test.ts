// The backend suite (test/support/backend-suite.ts) for containerd's image store, against the rig's
// real containerd, in a namespace of its own per run so no earlier import can stand in for a write.
import { randomBytes } from 'node:crypto'
import { ContainerdClient } from '../../src/containerd/index.js'
import { ContainerdImageStore } from '../../src/stores/containerd.js'
import { verifiedSink, verifiedSource } from '../../src/oci/verified.js'
import { backendSuite } from '../support/backend-suite.js'
import { rigEnv } from '../support/rig.js'

backendSuite('containerd', async () => {
  const connect = { address: rigEnv().CONTAINERD_ADDRESS, namespace: `ipcr-suite-${randomBytes(4).toString('hex')}` }
  return {
    async location(image) {
      const name = `ipcr.test/suite-${image}:1`
      return {
        sink: async () => verifiedSink(await ContainerdImageStore.open(name, connect)),
        source: async () => verifiedSource(await ContainerdImageStore.open(name, connect)),
      }
    },
    async close() {
      const client = await ContainerdClient.connect(connect)
      try {
        for (const image of await client.images.list()) await client.images.delete(image.name)
      } finally {
        await client.close()
      }
    },
  }
})
