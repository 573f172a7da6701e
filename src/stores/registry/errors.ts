import { IpcrError } from '../../errors.js'

/**
 * The registry refused who we said we were (or wanted us to say and we had nothing to say). A class
 * of its own so scripts and tests can tell "fix your credentials" from "the registry is down".
 */
export class RegistryAuthError extends IpcrError {}

/** The registry's TLS certificate is not trusted: the fix is a CA file in a certs directory, never a retry. */
export class RegistryTrustError extends IpcrError {}
