/**
 * A node's best-effort inputs (`reliability: best_effort`): messages that come straight from
 * their senders over the node's own endpoint (direct-receive.ts), never through the supervisor,
 * and how each such input ends.
 *
 * They join the node's one event buffer unnumbered (the supervisor never sees them, so they are
 * not consumed and never redelivered), and each input's `queue_size` holds there. An input ends
 * twice over: its sender puts a close marker on the link after its last message, and the
 * supervisor sends InputClosed. The program must get exactly one `input-closed`, after the last
 * message that came on the link, so the supervisor's word waits for the marker (bounded), and a
 * Stop(all-inputs-closed) that answers it waits too (node.ts holds it while {@link closing}).
 *
 * @module
 */
import type { DirectInput } from '../src/protocol/node/messages.js'
import type { EventBuffer } from './event-buffer.js'
import type { DirectArrival, DirectReceiver } from './direct-receive.js'
import type { DirectCounter } from './direct-counter.js'
import { DIRECT_CLOSE_WAIT_MS } from './direct-send.js'

/** How often a close that waits for its marker looks again while messages wait in the socket (ms). */
const PENDING_RECHECK_MS = 10

export class DirectInputs {
  readonly #buffer: EventBuffer
  readonly #counter: DirectCounter
  /** Where the links come in: whether messages wait there unread. */
  readonly #receiver: Pick<DirectReceiver, 'pending'> | undefined
  /** Best-effort input id -> its queue_size. */
  readonly #limits = new Map<string, number>()
  /** Inputs closed (by their sender or the supervisor): later messages on them are dropped. */
  readonly #closed = new Set<string>()
  /**
   * Inputs the supervisor said are closed by their sender, whose own marker on the link has not
   * arrived yet: what is still on the link comes first (see supervisorClosed).
   */
  readonly #closing = new Map<string, NodeJS.Timeout>()
  /** Called after an input's `input-closed` is buffered (node.ts: a held Stop may follow now). */
  readonly #onClosed: () => void

  constructor(
    inputs: readonly DirectInput[],
    buffer: EventBuffer,
    counter: DirectCounter,
    receiver: Pick<DirectReceiver, 'pending'> | undefined,
    onClosed: () => void = () => {},
  ) {
    this.#buffer = buffer
    this.#onClosed = onClosed
    this.#counter = counter
    this.#receiver = receiver
    for (const input of inputs) this.#limits.set(input.inputId, Math.max(1, input.queueSize))
  }

  /** `id` is a best-effort input of this node. */
  has(id: string): boolean {
    return this.#limits.has(id)
  }

  /** Some input the supervisor closed waits for its sender's marker before it ends. */
  get closing(): boolean {
    return this.#closing.size > 0
  }

  /**
   * A best-effort message (or its sender's close) arrived: buffered, or counted as dropped when
   * its input is closed, it could not be read, or its input's queue was full (the oldest goes).
   */
  arrived(a: DirectArrival): void {
    if (a.type === 'input-closed') {
      this.#close(a.id)
      return
    }
    if (this.#closed.has(a.id) || a.event === undefined) {
      this.#counter.dropInput(a.id)
      return
    }
    this.#counter.received++
    if (this.#buffer.pushDirect(a.id, a.event, this.#limits.get(a.id) ?? 1)) this.#counter.dropInput(a.id)
  }

  /**
   * The supervisor says best-effort input `id` is closed: its event `seq` is consumed unseen (the
   * program gets one `input-closed`, unnumbered, from #close). When the sender closed the output
   * itself (`linkClosed`), its marker on the link follows its last messages there, and those may
   * still be in flight or waiting in the socket (a large payload takes longer on the link than
   * this small message through the supervisor, a busy receiver reads both sockets late): closing
   * now would drop them as late. So the input ends when the marker comes, or after
   * {@link DIRECT_CLOSE_WAIT_MS} with nothing waiting in the socket (the marker was lost).
   * Without `linkClosed` the sender ended without closing (killed): nothing more will come.
   */
  supervisorClosed(id: string, linkClosed: boolean, seq: number): void {
    this.#buffer.push({ event: undefined, seq })
    if (!linkClosed) this.#close(id)
    else if (!this.#closed.has(id) && !this.#closing.has(id)) {
      const expire = (): void => {
        // Messages wait in the socket (this process was busy): they are read first, the
        // marker may be among them.
        if (this.#receiver?.pending === true) this.#closing.set(id, setTimeout(expire, PENDING_RECHECK_MS).unref())
        else this.#close(id)
      }
      this.#closing.set(id, setTimeout(expire, DIRECT_CLOSE_WAIT_MS).unref())
    }
  }

  /** The node is released: no close waits any longer. */
  release(): void {
    for (const timer of this.#closing.values()) clearTimeout(timer)
    this.#closing.clear()
  }

  /** End best-effort input `id` for the program (once): later messages on it are dropped. */
  #close(id: string): void {
    clearTimeout(this.#closing.get(id))
    this.#closing.delete(id)
    if (this.#closed.has(id)) return
    this.#closed.add(id)
    this.#buffer.push({ event: { type: 'input-closed', id }, seq: 0 })
    this.#onClosed()
  }
}
