/**
 * `dora-ts record dataflow.yml`: run a dataflow in the foreground, as `dora-ts run` does, with
 * a recorder node that writes every message of the chosen outputs to a file (as `dora record`
 * and `ros2 bag record`); `dora-ts replay` plays it back. What the recorder adds and keeps:
 * runtime/tools/recording-plan.ts and recorder-node.ts.
 */
import { existsSync, statSync } from 'node:fs'
import { resolve } from 'node:path'
import type { CommandModule } from 'yargs'
import { loadDataflow } from '../../src/spec/load.js'
import { withRecorder } from '../tools/recording-plan.js'
import { CliUsageError } from './options.js'
import { createPrinter } from './output.js'
import { runInForeground, runOptions, type ForegroundRunArgs } from './run.js'
import { formatBytes } from './unit-table.js'

interface RecordArgs extends ForegroundRunArgs {
  dataflow: string
  output?: string | undefined
  topics?: string | undefined
}

/** `recording-20261207-142311.dtsrec`, of the local time now. */
export function defaultRecordingName(now = new Date()): string {
  const two = (n: number): string => String(n).padStart(2, '0')
  const day = `${now.getFullYear()}${two(now.getMonth() + 1)}${two(now.getDate())}`
  return `recording-${day}-${two(now.getHours())}${two(now.getMinutes())}${two(now.getSeconds())}.dtsrec`
}

export const recordCommand: CommandModule<object, RecordArgs> = {
  command: 'record <dataflow>',
  describe: 'Run a dataflow in the foreground and record the messages of its outputs to a file',
  builder: (yargs) =>
    runOptions(yargs.positional('dataflow', { type: 'string', demandOption: true, describe: 'Path of the dataflow YAML' }))
      .option('output', { alias: 'o', type: 'string', describe: 'The recording to write (default: recording-<date>-<time>.dtsrec here)' })
      .option('topics', { type: 'string', describe: 'Outputs to record, comma-separated node/output (default: every output)' })
      .example('$0 record dataflow.yml --stop-after 60s', 'A minute of every output, into recording-<date>-<time>.dtsrec')
      .example('$0 record dataflow.yml --topics lidar/scan,camera/image -o drive.dtsrec', 'Two sensors, until Ctrl-C'),
  handler: async (args) => {
    const file = resolve(args.output ?? defaultRecordingName())
    if (existsSync(file)) {
      throw new CliUsageError(`${file} already exists`, { hint: 'Record into a new file: pass another -o, or remove that one.' })
    }
    const wanted = (args.topics ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t !== '')
    const loaded = await loadDataflow(args.dataflow)
    const { spec, topics } = withRecorder(loaded, file, wanted)
    const printer = createPrinter()
    printer.info(`recording ${topics.length} topic(s) to ${file}: ${topics.join(', ')}`)
    await runInForeground(spec, args)
    if (existsSync(file)) printer.info(`recording: ${file} (${formatBytes(statSync(file).size)}); play it back with dora-ts replay ${args.output ?? file}`)
    else printer.error(`no recording was written to ${file}: the recorder never started (see above)`)
  },
}
