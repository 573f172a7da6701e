import http from 'node:http'
import https from 'node:https'
import { rootCertificates } from 'node:tls'
import { extraCaCertificates } from '../util/extra-ca.js'

/** A keep-alive agent for `url`'s scheme, as the kubo and gateway clients use one per base URL. */
export function keepAliveAgent(url: string): http.Agent {
  const options = { keepAlive: true, maxSockets: 16 }
  if (!url.startsWith('https:')) return new http.Agent(options)
  const extra = extraCaCertificates()
  return new https.Agent(extra === undefined ? options : { ...options, ca: [...rootCertificates, extra] })
}

