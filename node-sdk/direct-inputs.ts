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
 * Stop(all-inputs-closed) that answers it waits too.
 *
 * @module
 */
import type { DirectInput } from '../src/protocol/node/messages.js'
import type { DoraEvent } from './events.js'
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
  /** A Stop(all-inputs-closed) that came while some of those waited: it follows their InputClosed. */
  #heldStop: DoraEvent | undefined

  constructor(inputs: readonly DirectInput[], buffer: EventBuffer, counter: DirectCounter, receiver: Pick<DirectReceiver, 'pending'> | undefined) {
    this.#buffer = buffer
    this.#counter = counter
    this.#receiver = receiver
    for (const input of inputs) this.#limits.set(input.inputId, Math.max(1, input.queueSize))
  }

  /** `id` is a best-effort input of this node. */
  has(id: string): boolean {
    return this.#limits.has(id)
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

  /**
   * A Stop(all-inputs-closed), numbered `seq`: when it answers the InputClosed of a best-effort
   * input whose last messages are still on the link, it is held and yielded after that input's
   * close (or the program would stop before them); true when held.
   */
  holdStop(stop: DoraEvent, seq: number): boolean {
    if (stop.type !== 'stop' || stop.cause !== 'all-inputs-closed' || this.#closing.size === 0) return false
    this.#buffer.push({ event: undefined, seq })
    this.#heldStop = stop
    return true
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
    if (this.#heldStop !== undefined && this.#closing.size === 0) {
      this.#buffer.push({ event: this.#heldStop, seq: 0 })
      this.#heldStop = undefined
    }
  }
}
