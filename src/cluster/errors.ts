import { UnavailableError, UsageError } from '../errors.js'

/** The cluster's REST API did not answer, or failed: the work that needs it can be rerun. */
export class ClusterUnavailableError extends UnavailableError {}

/** Asked for what this cluster cannot do (more copies than it has peers). */
export class ReplicationError extends UsageError {}
