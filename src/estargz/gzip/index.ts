export { GzipMember, gzipMember } from './gzip-member.js'
export { Deflater, BEST_COMPRESSION, BEST_SPEED, DEFAULT_COMPRESSION, HUFFMAN_ONLY, NO_COMPRESSION } from './compressor.js'
export { GzipClosedError, GzipLevelError } from './errors.js'
