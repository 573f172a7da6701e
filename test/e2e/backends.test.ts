// The backend suite (test/support/backend-suite.ts) for the backends that need a daemon: containerd's
// image store, against the rig's real containerd, in a namespace of its own per run so no earlier
// import can stand in for a write; and a registry.
import { randomBytes } from 'node:crypto'
import { ContainerdClient } from '../../src/containerd/index.js'
import { ContainerdImageStore } from '../../src/stores/containerd.js'
import { verifiedSink, verifiedSource } from '../../src/oci/verified.js'
import { openRegistryImage } from '../../src/stores/registry/index.js'
import { backendSuite } from '../support/backend-suite.js'
import { startRegistry, type TestRegistry } from '../support/registry.js'
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

// A registry (CNCF distribution 2.8, plain HTTP on 127.0.0.1), written and read through docker://.
let registry: TestRegistry | undefined
backendSuite('registry', async () => {
  registry = await startRegistry('plain')
  const host = registry.host
  return {
    async location(image) {
      const ref = `${host}/suite/${image}:1`
      return {
        sink: async () => verifiedSink(await openRegistryImage(ref, {})),
        source: async () => verifiedSource(await openRegistryImage(ref, {})),
      }
    },
    async close() {
      await registry?.stop()
    },
  }
})
