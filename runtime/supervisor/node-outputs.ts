/**
 * The ingest path of custom nodes' outputs: a message a node sends is committed into the outbox
 * (`__outbox__`, one entry per receiver, the same as an operator's outputs) before it is routed
 * and before the node is told it was taken (`outputs-taken`), so what a node's `await send()`
 * resolved for survives a SIGKILL of the supervisor: the next run replays it first. Commits are
 * grouped: every message taken in one turn of the event loop, from any node, goes into the
 * store's group transaction of that turn with the operators' events (StateStore.senderOutbox).
 *
 * A payload that came through shared memory is not copied into the store: the store adopts the
 * node's segment file (a hard link on the same tmpfs) as its own durable copy, referenced by
 * the outbox entries (src/store/state/segments.ts); live receivers still read the run's name.
 *
 * Sort keys: each node numbers its messages in the store (1, 2, ... continuing across runs,
 * the counter committed with them), so a receiver's entries from one node replay in the order
 * they were sent, and no run reuses a key. The message keeps the header the node gave it
 * (messageId included): a sink dedups by that, as before.
 *
 * Order per node: the confirmations of a node are cumulative (output-acks.ts), so a message
 * that needs no commit (no receiver, a closed or undeclared output) must still wait for the
 * commits of the node's earlier messages: everything a node sent is handled in the order it
 * arrived ({@link NodeOutputs.inOrder}).
 */
import { errorMessage } from '../../src/errors.js'
import type { MessageHeader } from '../../src/events.js'
import { encodeOutboxHeader, encodeOutboxValue, outboxKey, type OutboxPut } from '../../src/store/state/outbox.js'
import type { SenderOutbox, StateStore } from '../../src/store/state/store.js'
import type { OutboxRoute } from '../operator/outbox.js'
import type { SharedSegment } from './shm-payloads.js'

export interface NodeOutputsOptions {
  /** The receivers of `sender`'s output `outputId` whose copies go into the outbox (none when it is closed). */
  routes(sender: string, outputId: string): readonly OutboxRoute[]
  /** Route the message to its receivers' queues; `order` is its outbox sort key, if it has entries. */
  route(sender: string, header: MessageHeader, data: Uint8Array, order: string | undefined, shm: SharedSegment | undefined): void
  /** A message could not be committed (said once per node), or consumed entries could not be deleted. */
  warn(sender: string, text: string): void
}

/** Sort key of a custom node's message number `n` (hex, so keys sort by number). */
export function nodeOrder(n: bigint): string {
  return `${n.toString(16).padStart(13, '0')}n`
}

interface Sender {
  outbox: SenderOutbox
  /** Number of the last message given a number (committed or on its way). */
  last: bigint
  /** Messages (and inOrder steps) waiting for the group commit. */
  pending: number
  warned: boolean
}

export class NodeOutputs {
  readonly #store: StateStore | undefined
  readonly #options: NodeOutputsOptions
  readonly #senders = new Map<string, Sender>()

  constructor(store: StateStore | undefined, options: NodeOutputsOptions) {
    this.#store = store
    this.#options = options
  }

  /**
   * `sender` sent a message: commit it for its receivers, then route it, then call `taken`
   * (the node's confirmation; `grouped`: from the group commit's callbacks, where the caller
   * may confirm at the end of the group instead of a turn of the event loop later). Without a
   * store, or for a message nobody receives, it is routed at once, after the node's earlier
   * messages.
   *
   * `shm`: the payload is in that shared-memory segment (`data` is empty). This holds one
   * reference to it until the message is routed. The store adopts the file as the copy a
   * supervisor death needs (no bytes copied); live receivers still get the segment.
   */
  take(sender: string, header: MessageHeader, data: Uint8Array, taken: (grouped: boolean) => void, shm?: SharedSegment): void {
    const routed = (order: string | undefined, grouped: boolean): void => {
      try {
        this.#options.route(sender, header, data, order, shm)
      } finally {
        shm?.release()
      }
      taken(grouped)
    }
    const routes = this.#store === undefined ? [] : this.#options.routes(sender, header.outputId)
    if (routes.length === 0) {
      this.inOrder(sender, (grouped) => routed(undefined, grouped))
      return
    }
    const state = this.#sender(sender)
    if (state === undefined) {
      // The store could not even be read (said): the message goes on in memory only.
      routed(undefined, false)
      return
    }
    const number = ++state.last
    const order = nodeOrder(number)
    // One payload for every receiver: the store keeps one segment (or one buffer) for all.
    const payload: Omit<OutboxPut, 'key'> =
      shm === undefined
        ? encodeOutboxValue(header, data)
        : shm.offset === 0
          ? { value: encodeOutboxHeader(header), file: { path: shm.path, size: shm.length } }
          : encodeOutboxValue(header, shm.bytes())
    const put = routes.map((r): OutboxPut => ({ key: outboxKey(r.receiver, r.inputId, sender, order), ...payload }))
    state.pending++
    state.outbox.commitLater(put, number, (err) => {
      state.pending--
      if (err !== undefined)
        this.#warnOnce(state, sender, `could not commit its messages (${errorMessage(err)}); they go on in memory only, and are lost if the supervisor dies`)
      routed(err === undefined ? order : undefined, true)
    })
  }

  /**
   * Run `step` once every message `sender` sent before is routed (at once when none waits;
   * `grouped` as for {@link take}).
   */
  inOrder(sender: string, step: (grouped: boolean) => void): void {
    const state = this.#senders.get(sender)
    if (state === undefined || state.pending === 0) {
      step(false)
      return
    }
    state.pending++
    // A place in the group: its callback comes after those of the earlier messages.
    state.outbox.afterGroup(() => {
      state.pending--
      step(true)
    })
  }

  /** Commit what waits now (the store's whole group: any handle flushes it). */
  flush(): void {
    this.#senders.values().next().value?.outbox.flush()
  }

  #sender(sender: string): Sender | undefined {
    let state = this.#senders.get(sender)
    if (state !== undefined) return state
    try {
      const outbox = (this.#store as StateStore).senderOutbox(sender)
      state = { outbox, last: outbox.lastNumber(), pending: 0, warned: false }
    } catch (err) {
      this.#options.warn(
        sender,
        `could not read its message counter (${errorMessage(err)}); its messages go on in memory only, and are lost if the supervisor dies`,
      )
      return undefined
    }
    this.#senders.set(sender, state)
    return state
  }

  #warnOnce(state: Sender, sender: string, text: string): void {
    if (state.warned) return
    state.warned = true
    this.#options.warn(sender, text)
  }
}
