/**
 * A classic `docker save` archive (the pre-OCI layout docker wrote before v25): manifest.json,
 * repositories, `<config hex>.json`, and per layer a `<v1 id>/` directory with VERSION, json and
 * the uncompressed layer.tar. Importers (ctr, docker load) read manifest.json; the v1 files are
 * there because older tools still expect them.
 */
import { FIXED_CREATED } from './constants.js'
import { goJson } from './gojson.js'
import { sha256Hex } from './hash.js'
import { writeTarFile } from './layout-tar.js'
import type { TarEntry } from './tar.js'

export interface DockerArchiveInput {
  configBytes: Buffer
  /** Uncompressed layer tars, base first; their sha256 must equal the config's diff_ids. */
  layerTars: Buffer[]
  repoTags: string[]
}

export interface DockerArchiveInfo {
  /** `<hex>.json` */
  config: string
  /** `<v1 id>/layer.tar`, base first. */
  layers: string[]
  repoTags: string[]
}

function splitTag(ref: string): [string, string] {
  const colon = ref.lastIndexOf(':')
  return colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest']
}

export async function writeDockerArchive(tarPath: string, input: DockerArchiveInput): Promise<DockerArchiveInfo> {
  const entries: TarEntry[] = []
  const config = `${sha256Hex(input.configBytes)}.json`
  entries.push({ path: config, type: 'file', content: input.configBytes })

  // v1 ids: docker derives them from the layer chain; any stable function of the chain works.
  const layers: string[] = []
  let parent = ''
  for (const layerTar of input.layerTars) {
    const id = sha256Hex(goJson({ parent, diff_id: `sha256:${sha256Hex(layerTar)}` }))
    const v1: Record<string, unknown> = { id }
    if (parent) v1.parent = parent
    v1.created = FIXED_CREATED
    v1.container_config = { Cmd: null }
    v1.os = 'linux'
    entries.push(
      { path: `${id}/VERSION`, type: 'file', content: '1.0' },
      { path: `${id}/json`, type: 'file', content: goJson(v1) },
      { path: `${id}/layer.tar`, type: 'file', content: layerTar },
    )
    layers.push(`${id}/layer.tar`)
    parent = id
  }

  const manifest = [{ Config: config, RepoTags: input.repoTags, Layers: layers }]
  entries.push({ path: 'manifest.json', type: 'file', content: goJson(manifest) })
  const repositories: Record<string, Record<string, string>> = {}
  for (const ref of input.repoTags) {
    const [repo, tag] = splitTag(ref)
    repositories[repo] = { ...(repositories[repo] ?? {}), [tag]: parent }
  }
  entries.push({ path: 'repositories', type: 'file', content: goJson(repositories) })

  await writeTarFile(entries, tarPath)
  return { config, layers, repoTags: input.repoTags }
}
