/**
 * `dora-ts topic list|info|echo|hz|pub`: what flows between the nodes of a running dataflow (on
 * the supervisor, or in the foreground: connect.ts), as `dora topic` and `ros2 topic` show it
 * (`pub`, which puts a message on an output, is topic-pub.ts).
 * `list` names every output with its receivers and path; `echo` prints each message of the
 * outputs named, `hz` their rates, from a tap the supervisor keeps while the command reads it
 * (runtime/supervisor/output-taps.ts).
 * A tap changes nothing in the dataflow: it shows what was committed and sent, from the moment
 * it opened.
 */
import type { Argv, CommandModule } from 'yargs'
import { withConnection } from './connect.js'
import { ForegroundRunClient } from './foreground-control.js'
import { DaemonNotRunningError, UnknownDataflowError } from '../daemon/errors.js'
import type { TapReadReply, TapReply } from '../daemon/topic-requests.js'
import type { TopicInfo, TopicReceiver } from '../supervisor/topics.js'
import { CliUsageError, byteSizeOption, durationOption, wholeNumberOption } from './options.js'
import { createPrinter } from './output.js'
import { table } from './unit-table.js'
import { formatMessage, formatRate, messageJson, rateOf, type Stamp } from './topic-format.js'
import type { ControlClient } from '../control/client.js'
import { escapeForTerminal } from '../../src/security/escape.js'
import { isPoisonTopic } from '../../src/spec/resolve.js'
import { pubCommand } from './topic-pub.js'

/** How often a tap is read while it keeps up. */
const POLL_MS = 100

interface TopicArgs {
  dataflow?: string | undefined
  json: boolean
}

interface ListArgs extends TopicArgs {
  name?: string | undefined
}

interface InfoArgs extends TopicArgs {
  topics: string[]
}

interface EchoArgs extends TopicArgs {
  topics: string[]
  count?: number | undefined
  bytes: string
}

interface HzArgs extends TopicArgs {
  topics: string[]
  window: number
  interval: string
  count?: number | undefined
}

const PATHS: Record<TopicInfo['path'], string> = {
  supervisor: 'supervisor',
  'link-log': 'link log',
  direct: 'best effort (no tap)',
}

const listCommand: CommandModule<TopicArgs, ListArgs> = {
  command: 'list [name]',
  aliases: ['ls'],
  describe: "A running dataflow's outputs: who sends each, who receives it, and its path",
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', describe: 'Dataflow name or id (the only running one when omitted)' })
      .example('$0 topic list robot', 'camera/image  camera  detector/image, viewer/frame  link log'),
  handler: async (args) => {
    const target = args.name ?? args.dataflow
    const topics = await withConnection(target, (client) => client.request<TopicInfo[]>('topics', { target }))
    if (args.json) {
      process.stdout.write(`${JSON.stringify(topics.map(({ logDir: _, ...t }) => t))}\n`)
      return
    }
    const rows = topics.filter((t) => !isPoisonTopic(t.topic) || t.receivers.length > 0)
    process.stdout.write(
      escapeForTerminal(
        table(
          ['TOPIC', 'FROM', 'TO', 'PATH'],
          rows.map((t) => [t.topic, t.sender, t.receivers.join(', ') || '-', PATHS[t.path]]),
        ),
        { keepNewlines: true },
      ),
    )
  },
}

const RECEIVER_PATHS: Record<TopicReceiver['path'], string> = {
  supervisor: 'through the supervisor',
  'link-log': 'from the link log (reliable direct link)',
  'best-effort': 'best-effort direct link',
  'operator-link': 'direct link between operators (best effort)',
}

const infoCommand: CommandModule<TopicArgs, InfoArgs> = {
  command: 'info <topics..>',
  describe: 'Who sends an output, who receives it, on what path and with which queue settings',
  builder: (yargs) =>
    yargs
      .positional('topics', { type: 'string', array: true, demandOption: true, describe: 'node/output (or node: all its outputs)' })
      .example('$0 topic info camera/image -d robot', 'camera/image, sent by camera, on a link log: detector/image queue_size 1, drop_oldest, reliable, ...'),
  handler: async (args) => {
    const topics = await withConnection(args.dataflow, (client) => client.request<TopicInfo[]>('topic-info', { target: args.dataflow, topics: args.topics }))
    if (args.json) {
      for (const { logDir: _, ...topic } of topics) process.stdout.write(`${JSON.stringify(topic)}\n`)
      return
    }
    process.stdout.write(escapeForTerminal(topics.map(describeTopic).join('\n'), { keepNewlines: true }))
  },
}

/** `topic info`'s text for one topic: a line on it, then one per receiver. */
function describeTopic(info: TopicInfo): string {
  const seen = info.path === 'direct' ? 'no tap can see it' : `topic echo and hz see it (${PATHS[info.path]})`
  const lines = [
    `${info.topic}`,
    `  sent by:   ${info.sender}`,
    `  tapping:   ${seen}`,
    `  receivers: ${info.inputs.length === 0 ? 'none' : info.inputs.length}`,
  ]
  for (const r of info.inputs) {
    const timeout = r.inputTimeout === undefined ? '' : `, input_timeout ${r.inputTimeout} s`
    lines.push(`    ${r.input}: ${RECEIVER_PATHS[r.path]}, queue_size ${r.queueSize}, ${r.queuePolicy}, ${r.reliability}${timeout}`)
  }
  return `${lines.join('\n')}\n`
}

const echoCommand: CommandModule<TopicArgs, EchoArgs> = {
  command: 'echo <topics..>',
  describe: 'Print each message of outputs as it is sent, until Ctrl-C',
  builder: (yargs) =>
    yargs
      .positional('topics', { type: 'string', array: true, demandOption: true, describe: 'node/output (or node: all its outputs)' })
      .option('count', { alias: 'n', type: 'number', describe: 'Exit after this many messages' })
      .option('bytes', { type: 'string', default: '1KiB', describe: 'How much of each payload to fetch and show (up to 1MiB)' })
      .example('$0 topic echo camera/image -d robot', '14:02:11.532 camera/image #42 json 18 B: {"frame":42,"ok":true}')
      .example('$0 topic echo controller --json -n 10', 'Ten messages of every output of controller, one JSON object per line'),
  handler: async (args) => {
    const count =
      args.count === undefined ? undefined : wholeNumberOption('--count', args.count, 1, 'a number of messages', 'Use a whole number from 1, e.g. -n 10.')
    const bytes = byteSizeOption('--bytes', args.bytes)
    if (bytes > 1024 * 1024)
      throw new CliUsageError(`--bytes ${args.bytes} is more than a tap keeps of a message`, { hint: 'Use up to 1MiB, e.g. --bytes 64KiB.' })
    let seen = 0
    await follow(args, bytes, (messages) => {
      for (const message of messages) {
        process.stdout.write(`${args.json ? JSON.stringify(messageJson(message)) : formatMessage(message)}\n`)
        if (count !== undefined && ++seen >= count) return false
      }
      return true
    })
  },
}

const hzCommand: CommandModule<TopicArgs, HzArgs> = {
  command: 'hz <topics..>',
  describe: "Print the rate and bandwidth of outputs every interval (from the senders' stamps), until Ctrl-C",
  builder: (yargs) =>
    yargs
      .positional('topics', { type: 'string', array: true, demandOption: true, describe: 'node/output (or node: all its outputs)' })
      .option('window', { alias: 'w', type: 'number', default: 100, describe: 'Messages the rate is taken over (the latest ones)' })
      .option('interval', { type: 'string', default: '1s', describe: 'Time between reports' })
      .option('count', { alias: 'n', type: 'number', describe: 'Exit after this many reports' })
      .example('$0 topic hz camera/image -d robot', 'camera/image: 29.97 Hz, 26.3 MiB/s (min 32.1 ms, max 35.0 ms, std dev 0.9 ms, window 100)'),
  handler: async (args) => {
    const window = wholeNumberOption('--window', args.window, 2, 'a number of messages', 'Use a whole number from 2, e.g. --window 100.')
    const reports =
      args.count === undefined ? undefined : wholeNumberOption('--count', args.count, 1, 'a number of reports', 'Use a whole number from 1, e.g. -n 5.')
    const intervalMs = durationOption('--interval', args.interval) * 1000
    if (intervalMs < POLL_MS) throw new CliUsageError(`--interval ${args.interval} is too short`, { hint: 'Use 100ms or more, e.g. --interval 1s.' })
    const stamps = new Map<string, Stamp[]>()
    const fresh = new Map<string, number>()
    let nextReport = performance.now() + intervalMs
    let made = 0
    await follow(args, 0, (messages, topics, last) => {
      for (const message of messages) {
        const list = stamps.get(message.topic) ?? []
        list.push({ ns: BigInt(message.timestampNs), bytes: message.bytes })
        if (list.length > window) list.splice(0, list.length - window)
        stamps.set(message.topic, list)
        fresh.set(message.topic, (fresh.get(message.topic) ?? 0) + 1)
      }
      // The last messages of a dataflow that ended get their report too.
      if (performance.now() < nextReport && !(last && fresh.size > 0)) return true
      nextReport += intervalMs
      for (const topic of topics) {
        const figures = rateOf(stamps.get(topic.topic) ?? [])
        const line = formatRate(topic.topic, figures, fresh.get(topic.topic) ?? 0)
        process.stdout.write(`${args.json ? JSON.stringify({ topic: topic.topic, ...figures, new: fresh.get(topic.topic) ?? 0 }) : line}\n`)
      }
      fresh.clear()
      return reports === undefined || ++made < reports
    })
  },
}

/**
 * Open a tap on `args.topics`, hand what it catches to `take` every {@link POLL_MS} (also with
 * nothing, so `hz` can report; `last` with the dataflow's last messages) until `take` returns
 * false, the dataflow ends, or Ctrl-C; the tap is closed on every path.
 */
async function follow(
  args: TopicArgs & { topics: string[] },
  previewBytes: number,
  take: (messages: TapReadReply['messages'], topics: TopicInfo[], last: boolean) => boolean,
): Promise<void> {
  const printer = createPrinter()
  await withConnection(args.dataflow, async (client) => {
    let opened = await client.request<TapReply>('tap', { target: args.dataflow, topics: args.topics, previewBytes })
    const controller = new AbortController()
    const stop = (): void => controller.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    const paths = [...new Set(opened.topics.map((t) => PATHS[t.path]))].join(' and ')
    printer.info(`tapping ${opened.topics.map((t) => t.topic).join(', ')} (${paths}); Ctrl-C to stop`)
    try {
      for (;;) {
        let read: TapReadReply
        try {
          read = await client.request<TapReadReply>('tap-read', { tap: opened.tap })
        } catch (err) {
          if (!foregroundRunEnded(client, err)) throw err
          printer.info('the tap ended: its dataflow ended')
          return
        }
        if (read.skipped > 0) printer.error(`${read.skipped} message(s) passed while this command fell behind; they are not shown`)
        if (read.dropped === true) {
          // Suspended (Ctrl-Z), its terminal paused (Ctrl-S) or the machine asleep: the
          // supervisor took the tap for one whose command was killed. The dataflow runs on, so
          // does this command, saying what it could not show.
          const again = await tapAgain(client, opened, args.topics, previewBytes)
          if (again === undefined) {
            printer.info('the tap ended: its dataflow ended')
            return
          }
          printer.error(
            'this command read nothing for too long (suspended, or its terminal paused), so the supervisor closed its tap; tapping again: messages sent meanwhile are not shown',
          )
          opened = again
          continue
        }
        if (!take(read.messages, opened.topics, read.ended !== undefined)) return
        if (read.ended !== undefined) {
          printer.info(`the tap ended: ${read.ended}`)
          return
        }
        if (controller.signal.aborted) return
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(timer)
            controller.signal.removeEventListener('abort', wake)
            resolve()
          }
          const timer = setTimeout(wake, POLL_MS)
          controller.signal.addEventListener('abort', wake, { once: true })
        })
        if (controller.signal.aborted) return
      }
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      await client.request('tap-close', { tap: opened.tap }).catch(() => {})
    }
  })
}

/** A new tap on the run `opened` tapped; undefined when that run has ended meanwhile. */
async function tapAgain(client: ControlClient, opened: TapReply, topics: string[], previewBytes: number): Promise<TapReply | undefined> {
  try {
    return await client.request<TapReply>('tap', { target: opened.dataflowId, topics, previewBytes })
  } catch (err) {
    if (err instanceof UnknownDataflowError || foregroundRunEnded(client, err)) return undefined
    throw err
  }
}

/** A foreground run that ended between two requests (its socket is gone): its end, not a failure. */
function foregroundRunEnded(client: ControlClient, err: unknown): boolean {
  return client instanceof ForegroundRunClient && err instanceof DaemonNotRunningError
}

export const topicCommand: CommandModule<object, TopicArgs> = {
  command: 'topic <command>',
  describe: "Inspect a running dataflow's outputs: list them, describe one, echo their messages, measure their rates, publish on one",
  builder: (yargs: Argv) =>
    yargs
      .option('dataflow', { alias: 'd', type: 'string', describe: 'Dataflow name or id (the only running one when omitted)' })
      .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output, one JSON object per line' })
      .command(listCommand)
      .command(infoCommand)
      .command(echoCommand)
      .command(hzCommand)
      .command(pubCommand)
      .demandCommand(1, 'Name a topic command: list, info, echo, hz or pub.') as unknown as Argv<TopicArgs>,
  handler: () => {},
}
