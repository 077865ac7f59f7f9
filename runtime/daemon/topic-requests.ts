/**
 * What a supervisor answers for `dora-ts topic list`, `info`, `echo`, `hz` and `pub`: a run's
 * topics, taps on them (runtime/supervisor/output-taps.ts) that the CLI opens, reads every
 * ~100 ms and closes, and messages put on them (runtime/supervisor/topic-publish.ts). The
 * daemon answers them for its runs, a foreground `dora-ts run` for its own
 * (runtime/cli/foreground-control.ts).
 *
 * @module
 */
import type { DataflowRun } from '../supervisor/dataflow-run.js'
import type { TappedMessage } from '../supervisor/output-taps.js'
import type { TopicInfo } from '../supervisor/topics.js'
import type { PublishReply } from '../supervisor/topic-publish.js'
import { TopicClosedError, TopicNotTappableError, UnknownTopicError } from './errors.js'
import { isPoisonTopic } from '../../src/spec/resolve.js'

/** The commands of {@link TopicService} (their fields are checked by runtime/daemon/requests.ts). */
export const TOPIC_COMMANDS = ['topics', 'topic-info', 'topic-pub', 'tap', 'tap-read', 'tap-close'] as const

/** A run a topic command reaches, and the name it goes by there. */
export interface TopicTarget {
  run: DataflowRun
  name: string
}

/**
 * Answers the {@link TOPIC_COMMANDS} for the runs `find` gives (by the request's `target`: a
 * name or id prefix, or none for the only one), keeping which run each open tap is on.
 */
export class TopicService {
  readonly #find: (target: string | undefined) => TopicTarget
  readonly #taps = new Map<string, TopicTarget>()

  constructor(find: (target: string | undefined) => TopicTarget) {
    this.#find = find
  }

  /** Taps open (not yet closed, or ended and not yet read for the last time). */
  get open(): number {
    return this.#taps.size
  }

  /**
   * The answer to `command` (one of {@link TOPIC_COMMANDS}, its body checked). What names
   * topics waits for a run still starting to know its paths (DataflowRun.pathsKnown).
   */
  async handle(
    command: (typeof TOPIC_COMMANDS)[number],
    args: Record<string, unknown>,
  ): Promise<TopicInfo[] | PublishReply | TapReply | TapReadReply | Record<string, never>> {
    const target = args['target'] as string | undefined
    switch (command) {
      case 'topics': {
        const found = await this.#wired(target)
        return found.run.topics()
      }
      case 'topic-info': {
        const found = await this.#wired(target)
        return topicsNamed(found.run, found.name, args['topics'] as string[], false)
      }
      case 'topic-pub': {
        const found = await this.#wired(target)
        const topic = oneTopic(found.run, found.name, String(args['topic']))
        const published = found.run.publish(topic, Buffer.from(String(args['data']), 'base64'), String(args['encoding']))
        if ('refused' in published) {
          throw new TopicClosedError(`nothing was published: ${published.refused}`, {
            hint: `Publish on an output that is open (dora-ts topic list ${found.name}), or start the dataflow again.`,
          })
        }
        return published
      }
      case 'tap': {
        const found = await this.#wired(target)
        const topics = topicsToTap(found.run, found.name, args['topics'] as string[])
        const tap = found.run.openTap(topics, (args['previewBytes'] as number | undefined) ?? 256)
        this.#taps.set(tap, found)
        return { tap, topics, dataflowId: found.run.id }
      }
      case 'tap-read':
        return this.#read(String(args['tap']))
      case 'tap-close': {
        const tap = String(args['tap'])
        this.#taps.get(tap)?.run.closeTap(tap)
        this.#taps.delete(tap)
        return {}
      }
    }
  }

  async #wired(target: string | undefined): Promise<TopicTarget> {
    const found = this.#find(target)
    await found.run.pathsKnown()
    return found
  }

  #read(tap: string): TapReadReply {
    const found = this.#taps.get(tap)
    const read = found?.run.readTap(tap)
    if (found === undefined || read === undefined) {
      this.#taps.delete(tap)
      if (found?.run.finished === true) return { messages: [], skipped: 0, ended: 'its dataflow ended' }
      return { messages: [], skipped: 0, ended: 'the supervisor closed the tap', dropped: true }
    }
    if (read.ended !== true) return { messages: read.messages, skipped: read.skipped }
    this.#taps.delete(tap)
    return { messages: read.messages, skipped: read.skipped, ended: 'its dataflow ended' }
  }
}

/** What `tap` answers. */
export interface TapReply {
  tap: string
  topics: TopicInfo[]
  /** The run tapped: a tap opened again (after {@link TapReadReply.dropped}) names it, not "the only one". */
  dataflowId: string
}

/** What `tap-read` answers. */
export interface TapReadReply {
  messages: TappedMessage[]
  skipped: number
  /** Set once the tap is closed: why (its dataflow ended, or it was not read for too long). */
  ended?: string | undefined
  /**
   * The tap was closed while its dataflow may run on (it went unread for too long, or the
   * supervisor that held it was restarted): a new one can be opened.
   */
  dropped?: true | undefined
}

/**
 * The topics of `run` that `wanted` names, in YAML order: each a topic (`camera/image`), or a
 * node or operator (`camera`: all its outputs a tap can see). Throws {@link UnknownTopicError}
 * for a name that matches none, {@link TopicNotTappableError} for a topic no tap can see.
 */
export function topicsToTap(run: DataflowRun, dataflowName: string, wanted: readonly string[]): TopicInfo[] {
  return topicsNamed(run, dataflowName, wanted, true)
}

/**
 * The topics `wanted` names, as {@link topicsToTap} finds them; with `forTap`, only those a
 * tap can see (`topic info` asks about every one).
 */
function topicsNamed(run: DataflowRun, dataflowName: string, wanted: readonly string[], forTap: boolean): TopicInfo[] {
  const all = run.topics()
  const chosen = new Set<TopicInfo>()
  for (const name of wanted) {
    const topic = all.find((t) => t.topic === name)
    if (topic !== undefined) {
      if (forTap && topic.path === 'direct') throw notTappable(topic, dataflowName)
      chosen.add(topic)
      continue
    }
    const ofSender = all.filter((t) => t.sender === name || t.topic.startsWith(`${name}/`))
    const seen = ofSender.filter((t) => !forTap || t.path !== 'direct')
    if (seen.length > 0) {
      seen.forEach((t) => chosen.add(t))
      continue
    }
    if (ofSender.length > 0) throw notTappable(ofSender[0]!, dataflowName)
    if (run.findUnit(name) !== undefined) {
      throw new UnknownTopicError(`${name} of dataflow "${dataflowName}" has no outputs`, {
        hint: `${forTap ? 'Tap' : 'Ask about'} what feeds it instead: its inputs come from ${describeInputs(all, name)}.`,
      })
    }
    throw new UnknownTopicError(`dataflow "${dataflowName}" has no output "${name}"`, {
      hint: `Its outputs are: ${all
        .filter((t) => !isPoisonTopic(t.topic))
        .map((t) => t.topic)
        .join(', ')} (dora-ts topic list ${dataflowName}). Name one as inputs do: node/output, or node/operator/output.`,
    })
  }
  return all.filter((t) => chosen.has(t))
}

/**
 * The one topic `name` names for `topic pub` (a node or operator with a single output names
 * that one); {@link UnknownTopicError} when it names none or several.
 */
function oneTopic(run: DataflowRun, dataflowName: string, name: string): string {
  const all = topicsNamed(run, dataflowName, [name], false)
  // A unit's name leaves out its `_errors` output, unless that is all it has.
  const named = all.length === 1 ? all : all.filter((t) => t.topic === name || !isPoisonTopic(t.topic))
  if (named.length === 1) return named[0]!.topic
  throw new UnknownTopicError(`${name} of dataflow "${dataflowName}" has ${named.length} outputs, and topic pub puts a message on one`, {
    hint: `Name one: ${named.map((t) => t.topic).join(', ')}.`,
  })
}

/** The topics that feed `receiver` (a unit's name), for a hint. */
function describeInputs(all: readonly TopicInfo[], receiver: string): string {
  const feeding = all.filter((t) => t.receivers.some((r) => r.startsWith(`${receiver}/`))).map((t) => t.topic)
  return feeding.length === 0 ? 'timers only' : feeding.join(', ')
}

function notTappable(topic: TopicInfo, dataflowName: string): TopicNotTappableError {
  return new TopicNotTappableError(
    `${topic.topic} of dataflow "${dataflowName}" goes straight from ${topic.sender} to ${topic.receivers.join(', ')} on best-effort links, with nothing kept where a tap could read it`,
    {
      hint: 'A tap sees what passes the supervisor or a reliable link log: make one receiver of it reliable (remove its reliability: best_effort), or tap the output that feeds it or the one it feeds.',
    },
  )
}
