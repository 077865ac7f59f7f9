/**
 * `dora-ts topic pub TOPIC [DATA]`: put a message on a running dataflow's output from the
 * command line, as `ros2 topic pub` and `dora topic pub` do: a goal for a planner, a mode switch
 * for a controller, an input a node rarely gets. The supervisor hands it to every receiver of
 * the output (runtime/supervisor/topic-publish.ts); this side reads the payload, paces the
 * messages and prints where each went.
 *
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { CommandModule } from 'yargs'
import { withConnection } from './connect.js'
import { CliUsageError, valueOrFileBytes, wholeNumberOption } from './options.js'
import { errorMessage } from '../../src/errors.js'
import { escapeForTerminal } from '../../src/security/escape.js'
import { MAX_PUBLISH_BYTES, type PublishReply } from '../supervisor/topic-publish.js'

interface PubArgs {
  dataflow?: string | undefined
  json: boolean
  topic: string
  data?: string | undefined
  file?: string | undefined
  encoding: string
  count: number
  rate: number
}

/** The longest wait between two messages `--rate` may ask for (a day). */
const LONGEST_PERIOD_MS = 24 * 3600 * 1000

export const pubCommand: CommandModule<{ dataflow?: string | undefined; json: boolean }, PubArgs> = {
  command: 'pub <topic> [data]',
  describe: "Put a message on a running dataflow's output: every receiver of it gets it (for testing, at most once)",
  builder: (yargs) =>
    yargs
      .positional('topic', { type: 'string', demandOption: true, describe: 'node/output (or a node with one output)' })
      .positional('data', { type: 'string', describe: 'The payload: JSON by default (--encoding json), else text' })
      .option('file', { type: 'string', describe: 'Send the bytes of this file instead (- reads stdin)' })
      .option('encoding', { alias: 'e', type: 'string', default: 'json', describe: 'The encoding receivers are told: json (DATA is checked), utf8, raw, ...' })
      .option('count', { alias: 'n', type: 'number', default: 1, describe: 'How many times to send it' })
      .option('rate', { alias: 'r', type: 'number', default: 1, describe: 'Messages per second when --count is above 1' })
      .example(`$0 topic pub planner/goal '{"x":1.5,"y":-2}' -d robot`, 'published planner/goal (pub-3f9a0c12.1) to controller/goal')
      .example('$0 topic pub teleop/mode \'"manual"\' -n 10 -r 5', 'The same message ten times, five per second')
      .example('$0 topic pub camera/image --file frame.raw -e raw', "A file's bytes, labelled raw"),
  handler: async (args) => {
    const data = payloadOf(args)
    const count = wholeNumberOption('--count', args.count, 1, 'a number of messages', 'Use a whole number from 1, e.g. -n 10.')
    if (!(args.rate > 0) || 1000 / args.rate > LONGEST_PERIOD_MS) {
      throw new CliUsageError(`--rate ${args.rate} is not a rate`, { hint: 'Use messages per second above 0, e.g. -r 10 or -r 0.5.' })
    }
    const periodMs = 1000 / args.rate
    const request = {
      ...(args.dataflow === undefined ? {} : { target: args.dataflow }),
      topic: args.topic,
      data: Buffer.from(data).toString('base64'),
      encoding: args.encoding,
    }
    await withConnection(args.dataflow, async (client) => {
      const started = performance.now()
      for (let i = 0; i < count; i++) {
        // Paced from the first send, so a slow reply does not stretch the whole series.
        if (i > 0) await sleep(Math.max(0, started + i * periodMs - performance.now()))
        const reply = await client.request<PublishReply>('topic-pub', request)
        process.stdout.write(args.json ? `${JSON.stringify(reply)}\n` : escapeForTerminal(describeReply(reply, i, count), { keepNewlines: true }))
      }
    })
  },
}

/** The payload `args` give: DATA (checked as JSON under `--encoding json`) or the bytes of `--file`. */
function payloadOf(args: PubArgs): Uint8Array {
  const bytes = valueOrFileBytes(args.data, args.file, {
    message: 'topic pub takes DATA or --file, exactly one of them',
    hint: `e.g. dora-ts topic pub ${args.topic} '{"speed":0.5}', or dora-ts topic pub ${args.topic} --file msg.json`,
  })
  if (bytes.byteLength > MAX_PUBLISH_BYTES) {
    throw new CliUsageError(`the message is ${bytes.byteLength} bytes, and topic pub sends at most ${MAX_PUBLISH_BYTES}`, {
      hint: 'Send a smaller one; large payloads (images, point clouds) belong to a node that sends them (dora-ts replay can stand in for one).',
    })
  }
  if (args.encoding === 'json') {
    const text = Buffer.from(bytes).toString('utf8')
    try {
      JSON.parse(text)
    } catch (err) {
      throw new CliUsageError(`the message is not JSON (${errorMessage(err)}), and --encoding is json`, {
        hint: `Quote a string as JSON ('"hello"'), or send it as text with --encoding utf8.`,
      })
    }
  }
  return bytes
}

/** The lines printed for message `index` of `count`. */
function describeReply(reply: PublishReply, index: number, count: number): string {
  const which = count > 1 ? ` ${index + 1}/${count}` : ''
  const to = reply.delivered.length === 0 ? 'no receiver' : reply.delivered.join(', ')
  const lines = [`published ${reply.topic}${which} (${reply.messageId}) to ${to}`]
  for (const missed of reply.notDelivered) lines.push(`  not to ${missed.input}: ${missed.why}`)
  return `${lines.join('\n')}\n`
}
