import type { ImageLocation } from './location.js'
import type { ImageSink, ImageSource } from './store.js'
import { UsageError } from '../errors.js'

/** How to reach containerd, for locations that name an image in its store. */
export interface ContainerdTarget {
  address: string
  namespace: string
}

/**
 * Open a location for reading. Backends load lazily, so reading a layout never loads gRPC.
 */
export async function openImageSource(loc: ImageLocation, containerd: ContainerdTarget): Promise<ImageSource> {
  switch (loc.kind) {
    case 'oci-layout': {
      const { OciLayout } = await import('./stores/oci-layout.js')
      return new OciLayout(loc.dir, loc.tag)
    }
    case 'docker-archive': {
      const { DockerArchive } = await import('./stores/docker-archive.js')
      return new DockerArchive(loc.file, loc.ref)
    }
    case 'containerd': {
      const { ContainerdImageStore } = await import('./stores/containerd.js')
      return ContainerdImageStore.open(loc.name, containerd)
    }
    case 'ipfs':
      throw new UsageError(`reading ipfs:${loc.ref} as a source is not supported by this command yet`)
  }
}

/** Open a location for writing (image copy, image convert). docker-archive is read-only. */
export async function openImageSink(loc: ImageLocation, containerd: ContainerdTarget): Promise<ImageSink> {
  switch (loc.kind) {
    case 'oci-layout': {
      const { OciLayout } = await import('./stores/oci-layout.js')
      return new OciLayout(loc.dir, loc.tag)
    }
    case 'containerd': {
      const { ContainerdImageStore } = await import('./stores/containerd.js')
      return ContainerdImageStore.open(loc.name, containerd)
    }
    case 'docker-archive':
      throw new UsageError(`docker-archive:${loc.file} is read-only; write to oci-layout:DIR[:TAG] or a containerd image name`)
    case 'ipfs':
      throw new UsageError('to write to IPFS use `ipcr image ipfs-push`')
  }
}
