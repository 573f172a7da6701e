// The CLI entry point bin/ipcr loads; main is in cli/main.ts, the commands in cli/program.ts.
export { main } from './cli/main.js'
