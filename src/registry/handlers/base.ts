import { jsonReply, type Handler } from '../handler.js'

/** `GET /v2/`: this is a registry, speaking the distribution API, and needing no authentication. */
export function baseHandler(): Handler {
  return async () => jsonReply({})
}
