/**
 * `dora-ts replay recording.dtsrec [dataflow.yml]`: run the dataflow a recording was made from
 * (or another with the same nodes) in the foreground, with the recorded nodes replaced by
 * nodes that send what was recorded, at its pace (as `dora replay`, `ros2 bag play`). The
 * other nodes run live and see their inputs as in the recorded run. How: runtime/tools/
 * recording-plan.ts and replay-node.ts.
 */
import { resolve } from 'node:path'
import type { CommandModule } from 'yargs'
import { loadDataflow } from '../../src/spec/load.js'
import { RecordingReader } from '../../src/recording/format.js'
import { RecordingPlanError } from '../../src/recording/errors.js'
import { withReplay } from '../tools/recording-plan.js'
import { CliUsageError } from './options.js'
import { createPrinter } from './output.js'
import { runInForeground, runOptions, type ForegroundRunArgs } from './run.js'

interface ReplayArgs extends ForegroundRunArgs {
  recording: string
  dataflow?: string | undefined
  replace?: string | undefined
  speed: number
  loop: boolean
}

export const replayCommand: CommandModule<object, ReplayArgs> = {
  command: 'replay <recording> [dataflow]',
  describe: 'Run a dataflow with its recorded nodes replaced by what they sent in a recording',
  builder: (yargs) =>
    runOptions(
      yargs
        .positional('recording', { type: 'string', demandOption: true, describe: 'A file dora-ts record wrote' })
        .positional('dataflow', { type: 'string', describe: 'The dataflow YAML (default: the one the recording was made from)' }),
    )
      .option('replace', { type: 'string', describe: 'Nodes to replay, comma-separated (default: every node the recording has messages of)' })
      .option('speed', { type: 'number', default: 1, describe: 'Playback speed: 2 is twice as fast, 0 as fast as the receivers take it' })
      .option('loop', { type: 'boolean', default: false, describe: 'Start again at the end, until Ctrl-C' })
      .example('$0 replay drive.dtsrec', 'The recorded sensors, at the recorded pace, into the live rest of the dataflow')
      .example('$0 replay drive.dtsrec --replace lidar --speed 0 --clean-state', 'Only the lidar, as fast as possible, from empty operator state'),
  handler: async (args) => {
    if (!Number.isFinite(args.speed) || args.speed < 0) {
      throw new CliUsageError(`--speed ${args.speed} is not a playback speed`, {
        hint: 'Use a number from 0: 1 as recorded, 2 twice as fast, 0 as fast as possible.',
      })
    }
    const file = resolve(args.recording)
    let reader: RecordingReader
    try {
      reader = RecordingReader.open(file)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new CliUsageError(`the recording ${file} does not exist`, { hint: 'Give the file dora-ts record wrote (recording-<date>-<time>.dtsrec).' })
      }
      throw err
    }
    let counts: Map<string, number>
    try {
      counts = reader.topicCounts()
    } finally {
      reader.close()
    }
    if (counts.size === 0) {
      throw new RecordingPlanError(`the recording ${file} holds no message`, {
        hint: 'Record again, for longer, or check that the recorded outputs sent something.',
      })
    }
    const loaded = await loadDataflow(args.dataflow ?? reader.header.yamlFile)
    const replace = (args.replace ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== '')
    const { spec, replaced, notes } = withReplay(loaded, new Set(counts.keys()), { file, speed: args.speed, loop: args.loop, replace })
    const printer = createPrinter()
    for (const note of notes) printer.info(`note: ${note}`)
    if (args.speed === 0 && replaced.length < loaded.nodes.length) {
      // As dora says it: only the inputs the replay feeds wait for their receivers.
      printer.info(
        'note: at full speed only the inputs the replay feeds wait for their receivers; a live node between them may pass a burst on faster than the queue_size of the inputs it feeds holds',
      )
    }
    const total = [...counts.values()].reduce((a, b) => a + b, 0)
    printer.info(
      `replaying ${total} recorded message(s) of ${replaced.join(', ')} at ${args.speed === 0 ? 'full speed' : `${args.speed}x`}${args.loop ? ', looping' : ''}`,
    )
    await runInForeground(spec, args)
  },
}
