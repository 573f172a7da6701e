import { join } from 'node:path'
import { JsonListFile } from '../util/json-list-file.js'

/** An image this machine asked a cluster to keep: what `image rm` and `gc` unpin through it. */
export interface ClusterPinRecord {
  /** The cluster's REST API URL. */
  cluster: string
  name: string
  root: string
  cids: string[]
  min: number
  max: number
  pinnedAt: string
}

/** `$IPCR_ROOT/cluster-pins.json`, one record per cluster and root. */
export class ClusterPinLedger {
  private readonly file: JsonListFile<ClusterPinRecord>

  constructor(root: string) {
    this.file = new JsonListFile(join(root, 'cluster-pins.json'))
  }

  list(): Promise<ClusterPinRecord[]> {
    return this.file.read()
  }

  update(change: (records: ClusterPinRecord[]) => ClusterPinRecord[] | undefined): Promise<void> {
    return this.file.update(change)
  }

  record(entry: ClusterPinRecord): Promise<void> {
    return this.file.update((all) => [...all.filter((e) => !(e.cluster === entry.cluster && e.root === entry.root)), entry])
  }
}
