/**
 * `dora-ts topic pub`: a message put on a running dataflow's output from outside, as `ros2
 * topic pub` and `dora topic pub` do, to drive a node by hand (a goal, a mode switch) or to see
 * how it handles an input it rarely gets.
 *
 * The message reaches every receiver of the output through the supervisor, whatever path the
 * sender's own messages take (a link log, a best-effort link, a link between operators: those
 * have one writer, the sender, and the supervisor writes none of them), as a timer tick does:
 * queued by the receiver's `queue_size` and `queue_policy`, handed to a custom node or an
 * operator as any input. Like a tick it is not kept in the outbox: it is delivered at most once
 * per receiver run (a receiver restarted after a crash while the supervisor lives gets it
 * again, marked `redelivered`; one that is stopped, or a supervisor that dies, loses it). Its
 * header names the output's sender, with `sequence` 0 (a sender's own start at 1) and a
 * `messageId` of its own, `pub-<8 hex>.<n>`, that no node or operator ever gives: a sink
 * deduping by id keeps it apart, and an operator's exactly-once record never counts it.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { nowNs } from '../../src/clock.js'
import type { MessageHeader } from '../../src/events.js'
import type { RoutingTable } from './routing.js'

/** The most payload bytes one `topic pub` message carries: it travels in a control request (64 KiB, base64). */
export const MAX_PUBLISH_BYTES = 32 * 1024

/** What `topic pub` answers for one message. */
export interface PublishReply {
  topic: string
  messageId: string
  /** The receivers it was queued for, `name/input`. */
  delivered: string[]
  /** The receivers it could not reach, each with why (its node ended, or failed). */
  notDelivered: Array<{ input: string; why: string }>
}

/** The producer (`node` or `node/operator`) and output id of `topic`; undefined when no unit sends it. */
export function producerOf(routing: RoutingTable, topic: string): { key: string; outputId: string } | undefined {
  for (const [key, producer] of routing.producers) {
    for (const [outputId, name] of producer.outputKeys) if (name === topic) return { key, outputId }
  }
  return undefined
}

/** What every published message's id starts with, before its `-<8 hex>.<n>`. */
const PREFIX = 'pub'

/** Whether `header` is that of a message `topic pub` put on an output (no outbox entry behind it). */
export function isPublished(header: MessageHeader): boolean {
  return header.sequence === 0n && header.messageId.startsWith(`${PREFIX}-`)
}

/**
 * The headers of one run's published messages: ids `pub-<x>.<n>`, with `x` drawn once per run
 * (so ids never repeat across runs or supervisors) and `n` counting from 1.
 */
export class PublishedHeaders {
  readonly #prefix = `${PREFIX}-${randomBytes(4).toString('hex')}`
  #count = 0

  /** The header of the next message published on `producerKey`'s output `outputId`. */
  next(dataflowId: string, producerKey: string, outputId: string, encoding: string): MessageHeader {
    const slash = producerKey.indexOf('/')
    return {
      dataflowId,
      senderNode: slash < 0 ? producerKey : producerKey.slice(0, slash),
      senderOperator: slash < 0 ? '' : producerKey.slice(slash + 1),
      outputId,
      sequence: 0n,
      timestampNs: nowNs(),
      metadata: {},
      encoding,
      messageId: `${this.#prefix}.${++this.#count}`,
      redelivered: false,
    }
  }
}
