// The CLI entry point bin/ipcr loads; the program itself is in cli/program.ts.
export { main } from './cli/program.js'
