/** eStargz: write, read and verify layers wire-compatible with stargz-snapshotter's Go package. */
export * from './constants.js'
export * from './errors.js'
export { footerBytes, parseFooter, type Footer } from './footer.js'
export { marshalToc, parseToc, cleanEntryName, goIndent, type Toc, type TocEntry, type TocEntryType } from './toc.js'
export { bytesSource, fileSource, type RandomAccessSource, type FileSource } from './source.js'
export {
  writeEstargz, writeEstargzFile, estargzStream,
  type EstargzOptions, type EstargzResult, type EstargzInput, type BlobSink,
} from './writer.js'
export { EstargzReader, type Chunk, type EstargzFile, type OpenOptions } from './reader.js'
export { verifyEstargz, type VerifyOptions, type VerifyReport } from './verify.js'
export { convertLayerToEstargz, convertLayerFileToEstargz, type ConvertedLayer, type ConvertOptions } from './convert.js'
export { EstargzPool, createEstargzPool, type EstargzPoolOptions } from './pool.js'
export { orderEntries } from './order.js'
export { parseRecordFile } from './record.js'
export type { TocType } from './tar.js'
