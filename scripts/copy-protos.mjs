// tsc only emits .js; the gRPC clients load their .proto files at run time, so copy them beside the output.
import { cpSync, existsSync } from 'node:fs'
const from = new URL('../src/containerd/proto/', import.meta.url)
const to = new URL('../dist/containerd/proto/', import.meta.url)
if (existsSync(from)) cpSync(from, to, { recursive: true })
