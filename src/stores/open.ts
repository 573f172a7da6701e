import { UsageError } from '../errors.js'
import type { IpfsBackend } from '../ipfs/backend.js'
import type { ImageLocation } from '../oci/location.js'
import type { ImageSink, ImageSource } from '../oci/store.js'
import { verifiedSink, verifiedSource } from '../oci/verified.js'
import type { RegistryOptions } from './registry/index.js'

/** What opening a location may need: containerd (as ctr is told), kubo (else the embedded store). */
export interface OpenContext {
  address: string
  namespace: string
  /** --ipfs-api; without it the repo's api file, else the embedded store. */
  ipfsApi?: string | undefined
  /** Told which IPFS is used and when reads change path (for stderr). */
  notify?: (line: string) => void
  /** How long an `ipfs:` reference may take to resolve; 60 s by default. */
  resolveTimeoutMs?: number
  /** Credentials, TLS and upload settings for `docker://` locations. */
  registry?: RegistryOptions
}

/** @deprecated the old name of OpenContext, kept for library users. */
export type ContainerdTarget = Pick<OpenContext, 'address' | 'namespace'>

/**
 * Open any location for reading: containerd, an OCI layout, a docker archive, a registry
 * (`docker://`) or `ipfs:CID|REF`.
 * Each backend loads only when used (reading a layout never loads gRPC or the kubo client), and
 * every source comes back wrapped so that each blob is checked against its descriptor.
 */
export async function openImageSource(loc: ImageLocation, ctx: OpenContext): Promise<ImageSource> {
  switch (loc.kind) {
    case 'oci-layout': {
      const [{ OciLayout }, { fillFromIpfs }] = await Promise.all([import('./oci-layout.js'), import('./ipfs-fill.js')])
      // A layout skopeo copied from ipcr's registry lacks the layers (foreign: they carry URLs); IPFS has them.
      return verifiedSource(fillFromIpfs(new OciLayout(loc.dir, loc.tag), () => ipfsOf(ctx), ctx.notify))
    }
    case 'docker-archive': {
      const { DockerArchive } = await import('./docker-archive.js')
      return verifiedSource(new DockerArchive(loc.file, loc.ref))
    }
    case 'containerd': {
      const { ContainerdImageStore } = await import('./containerd.js')
      return verifiedSource(await ContainerdImageStore.open(loc.name, ctx))
    }
    case 'docker': {
      const { openRegistryImage } = await import('./registry/index.js')
      return verifiedSource(await openRegistryImage(loc.ref, ctx.registry ?? {}))
    }
    case 'ipfs': {
      const { openIpfsImage } = await import('./ipfs.js')
      return verifiedSource(await openIpfsImage(loc.ref, ctx))
    }
  }
}

/** The IPFS every command would use (--ipfs-api, else the repo's kubo, else the embedded store), saying which. */
async function ipfsOf(ctx: OpenContext): Promise<IpfsBackend> {
  const { openIpfs } = await import('../ipfs/select.js')
  const { backend, note } = await openIpfs({ api: ctx.ipfsApi, ...(ctx.notify ? { notify: ctx.notify } : {}) })
  ctx.notify?.(note)
  return backend
}

/** Open a location for writing (image copy, image convert); every blob put is checked first. */
export async function openImageSink(loc: ImageLocation, ctx: OpenContext): Promise<ImageSink> {
  switch (loc.kind) {
    case 'oci-layout': {
      const { OciLayout } = await import('./oci-layout.js')
      return verifiedSink(new OciLayout(loc.dir, loc.tag))
    }
    case 'containerd': {
      const { ContainerdImageStore } = await import('./containerd.js')
      return verifiedSink(await ContainerdImageStore.open(loc.name, ctx))
    }
    case 'docker': {
      const { openRegistryImage } = await import('./registry/index.js')
      return verifiedSink(await openRegistryImage(loc.ref, ctx.registry ?? {}))
    }
    case 'docker-archive': {
      const { DockerArchiveWriter } = await import('./docker-archive-writer.js')
      return verifiedSink(new DockerArchiveWriter(loc.file, loc.ref))
    }
    case 'ipfs':
      throw new UsageError('to write to IPFS use `ipcr image ipfs-push`')
  }
}
