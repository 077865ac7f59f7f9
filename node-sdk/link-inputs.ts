/**
 * A node's reliable direct inputs (by default between nodes run by node): messages that come straight from
 * their sender's process, each also in the sender's link log (src/transport/link-log.ts), so
 * nothing is lost when anything is killed. See docs/design/reliable-direct-links.md.
 *
 * Per input, a reader of the sender's log and this input's cursor there:
 * - a message from the socket whose seq is the next expected is taken as it came (the reader
 *   is moved past its entry without reading it); one further ahead means some were missed
 *   (a full pipe, a restart): they are read from the log first; one behind was read from the
 *   log already and is dropped;
 * - at start, and on a slow poll (a message appended while this process's socket was not yet
 *   reached, with nothing after it to show the gap), the log is read from where the reader is;
 * - the cursor records how far the program may have been handed entries (`inHand`: written,
 *   when an entry past it is handed over, as that entry + LINK_MARK_AHEAD), how far this
 *   process may have read them (`read`, the same way when an entry past it is read; one write
 *   marks both while the program keeps up) and what it consumed (with those writes, or once
 *   its loop has waited a while, exactly then): a process that starts again reads on after
 *   `consumed`, and marks `redelivered` the entries up to `inHand`, as the supervisor's path
 *   marks the events it had pushed to a dead node; an entry past `read` that its sender's log
 *   no longer holds was certainly never read, a drop no one has counted yet (the supervisor
 *   counts those of a receiver that stopped reading);
 * - the sender's close is an entry of its log (`link-closed`, with the run's id); the
 *   supervisor's InputClosed ends the input once the log is read to its end, at once: what the
 *   sender appended before is there already.
 *
 * Each input's `queue_size` holds in the event buffer as for best effort (`drop_oldest`): an
 * entry dropped there is consumed unseen (the cursor passes it with the next one handed over).
 * The sender holds its log to about the newest `queue_size` entries past the cursors (a
 * receiver that stopped reading does not keep the rest in shared memory): entries it removed
 * before this receiver read them are counted as this input's drops when the reader passes them.
 *
 * @module
 */
import { hasLinkLog, type DirectInput, type NodeToNode } from '../src/protocol/node/messages.js'
import { decodeNodeToNode } from '../src/protocol/node/codec.js'
import { existsSync } from 'node:fs'
import { cursorPath, lastMayHaveRead, LINK_READ_AHEAD, LINK_READ_AHEAD_BYTES, LinkCursor, LinkLogReader, type LinkEntry } from '../src/transport/link-log.js'
import { errorMessage } from '../src/errors.js'
import type { DoraEvent } from './events.js'
import type { EventBuffer } from './event-buffer.js'
import type { DirectCounter } from './direct-counter.js'
import { directEvent } from './direct-receive.js'

/**
 * How many entries past the one handed over a cursor write marks as possibly in the program's
 * hands (see {@link LinkInputs.handedOut}): after a crash, at most this many entries the
 * program never saw come again marked `redelivered` (a sink that dedups by id handles them).
 */
export const LINK_MARK_AHEAD = 32n

/** How long the loop waits for events before what it consumed is written to the cursor (ms). */
export const LINK_SETTLE_MS = 20

/** How often the logs are looked at for entries no socket message announced (ms). */
export const LINK_POLL_MS = 50

/**
 * Most entries read from one log in one turn of the event loop: a receiver catching up on a
 * long backlog (a million messages a stopped receiver left) reads it in slices, so its
 * program, its Stop and its sockets are served in between.
 */
export const LINK_READ_SLICE = 2048

/** See src/transport/link-log.ts (the senders' pipes are bounded by it too). */
export { LINK_READ_AHEAD, LINK_READ_AHEAD_BYTES }

interface LinkInput {
  spec: DirectInput & { logDir: string }
  reader: LinkLogReader
  cursor: LinkCursor
  /** The entry the program held when the previous process ended: redelivered if seen again. */
  inHandBefore: bigint
  /** How far the previous process may have read (lastMayHaveRead): a gap up to there is not counted as drops. */
  seenBefore: bigint
  closed: boolean
  /** Consumed, not written to the cursor yet (see {@link LinkInputs.consumed}). */
  pending?: bigint | undefined
  /** The entry in the program's hands now (handed over, not come back from). */
  holding?: bigint | undefined
  /** The supervisor closed it: it ends once its log is read to the end. */
  closing: boolean
  /** Messages of it the socket brought: the looks at the log ({@link LinkInputs.tick}, a catch-up) pass an input that was heard since the last. */
  arrivals: number
  /** {@link arrivals} at the last periodic look. */
  arrivalsAtTick: number
  /**
   * Entries its reader passes because the log no longer held them are drops of this input.
   * Not at the first look of a receiver whose cursor is untouched: older entries there are the
   * log's past (other receivers', earlier runs'), not messages this one ever had coming.
   */
  countsSkips: boolean
  /** Its `queue_size` is larger than {@link LINK_READ_AHEAD}: reading stops there (see it). */
  windowed: boolean
  /** Payload bytes of its entries waiting in the event buffer (windowed inputs only). */
  aheadBytes: number
  /** A read stopped at the read-ahead bound: the program's next takes start it again. */
  throttled: boolean
}

/** What arrived on the socket for a reliable direct input. */
export interface LinkArrival {
  id: string
  link: { seq: bigint; end: number; newFile: boolean }
  /** The event built from the socket's frames; undefined when the payload is only in the log. */
  event: DoraEvent | undefined
}

export class LinkInputs {
  readonly #inputs = new Map<string, LinkInput>()
  readonly #buffer: EventBuffer
  readonly #counter: DirectCounter
  readonly #dataflowId: string
  readonly #nodeId: string
  #released = false
  #pollScheduled = false
  #settleTimer: NodeJS.Timeout | undefined

  /** Called after an input's `input-closed` is buffered (node.ts: a held Stop may follow now). */
  readonly #onClosed: () => void

  /**
   * `inputs`: the node's direct inputs; those with a `logDir` are taken here. `onClosed`: called
   * after an input's `input-closed` is buffered.
   */
  constructor(
    inputs: readonly DirectInput[],
    buffer: EventBuffer,
    counter: DirectCounter,
    dataflowId: string,
    nodeId: string,
    onClosed: () => void = () => {},
  ) {
    this.#buffer = buffer
    this.#onClosed = onClosed
    this.#counter = counter
    this.#dataflowId = dataflowId
    this.#nodeId = nodeId
    for (const spec of inputs) {
      if (!hasLinkLog(spec)) continue
      const cursor = new LinkCursor(spec.logDir, spec.cursorName ?? '')
      const { consumed, inHand, read } = cursor.value
      this.#inputs.set(spec.inputId, {
        spec,
        reader: new LinkLogReader(spec.logDir, consumed),
        cursor,
        inHandBefore: inHand,
        seenBefore: lastMayHaveRead(cursor.value),
        closed: false,
        closing: false,
        countsSkips: consumed > 0n || inHand > 0n || read > 0n,
        arrivals: 0,
        arrivalsAtTick: 0,
        windowed: spec.queueSize > LINK_READ_AHEAD,
        aheadBytes: 0,
        throttled: false,
      })
    }
  }

  /** `id` is a reliable direct input of this node. */
  has(id: string): boolean {
    return this.#inputs.has(id)
  }

  get size(): number {
    return this.#inputs.size
  }

  /** Some input the supervisor closed still has entries to read before it ends. */
  get closing(): boolean {
    for (const input of this.#inputs.values()) if (input.closing && !input.closed) return true
    return false
  }

  /**
   * The dataflow is stopping (a Stop that is not "all inputs closed"): its Stop goes to the
   * program before anything read from the logs and still waiting (see
   * EventBuffer.withholdLinks), and nothing more is read. All of it stays in the senders' logs,
   * unconsumed, for the node's next run; what the program was handed before is consumed as
   * usual when it comes back for the Stop.
   */
  withhold(): void {
    this.#buffer.withholdLinks()
  }

  /** Nothing more is read: the node was released, or the dataflow is stopping ({@link withhold}). */
  get #reading(): boolean {
    return !this.#released && !this.#buffer.linksWithheld
  }

  /**
   * Read the logs on from where each input is (at start: what a previous process or run left
   * unconsumed), a slice per input per turn; what is left is read in the next turns.
   */
  poll(): void {
    this.#poll(() => true)
  }

  #poll(which: (input: LinkInput) => boolean): void {
    this.#pollScheduled = false
    if (!this.#reading) return
    let more = false
    for (const input of this.#inputs.values()) {
      if (input.closed || !which(input)) continue
      const read = this.#readLog(input, undefined, LINK_READ_SLICE)
      if (read === LINK_READ_SLICE) more = true
      // Read to its end: an input the supervisor closed ends now, after all of it.
      else if (input.closing && !input.throttled) this.#close(input)
    }
    if (more) this.#schedulePoll()
  }

  /**
   * The slow, periodic look at the logs ({@link LINK_POLL_MS}): only inputs whose socket brought
   * nothing since the last one. While messages flow on the socket, a gap shows with the next
   * arrival (read then from the log); reading ahead here took from the log, with a read of its
   * own, every message still waiting in the socket's pipe, whose copy then came and was dropped
   * (in a 64 KB stream the receiver spent 28% of its time in those reads).
   */
  tick(): void {
    const quiet = new Set<LinkInput>()
    for (const input of this.#inputs.values()) {
      if (input.arrivals === input.arrivalsAtTick) quiet.add(input)
      input.arrivalsAtTick = input.arrivals
    }
    if (quiet.size > 0) this.#poll((input) => quiet.has(input))
  }

  /**
   * A busy program's catch-up begins (node.ts: the loop reads what the sockets hold before the
   * next event); the function returned ends it with a look at the logs of the inputs whose
   * socket brought nothing meanwhile. Not the others: as in {@link tick}, reading a flowing
   * input's log ahead would take every message still in its socket's pipe twice (in a 64 KB stream
   * into a receiver kept busy, these reads were 17% of its time), and a gap shows with the
   * next arrival anyway.
   */
  beginCatchUp(): () => void {
    const before = new Map<LinkInput, number>()
    for (const input of this.#inputs.values()) before.set(input, input.arrivals)
    return () => this.#poll((input) => before.get(input) === input.arrivals)
  }

  /** A message came on the socket for input `a.id`. */
  arrived(a: LinkArrival): void {
    const input = this.#inputs.get(a.id)
    if (input === undefined || input.closed || input.closing || !this.#reading) return
    input.arrivals++
    // Far enough ahead of the program: the log keeps it (the program's takes read on).
    if (input.throttled) return
    // Far behind (catching up on a backlog): the log has it, the slices get there.
    if (a.link.seq - input.reader.expected > BigInt(LINK_READ_SLICE)) {
      this.#schedulePoll()
      return
    }
    // Missed ones first (their entries are in the log: appended before this was sent).
    this.#readLog(input, a.link.seq, LINK_READ_SLICE)
    if (input.closed || input.reader.expected !== a.link.seq) return // a duplicate, or closed meanwhile
    if (!this.#hasRoom(input)) return
    if (a.event !== undefined && input.reader.passed(a.link)) this.#take(input, a.link.seq, a.event)
    else this.#readLog(input, a.link.seq + 1n, 1, a.link.newFile ? undefined : a.link.end)
  }

  /**
   * The program was handed entry `seq` of input `id`: it holds it now, and everything of the
   * input before it is consumed (handed over and come back from, or dropped). Before the
   * program sees it, the cursor must say that `seq` may be in its hands (so a process that
   * dies now gets it again marked `redelivered`); a write says so for the next
   * {@link LINK_MARK_AHEAD} entries too (`inHand` is a bound: a process that dies marks every
   * entry up to it, as the supervisor's path marks every event it had pushed to a dead node,
   * taken or not). While the program keeps up, reading the entry wrote that already. So a
   * stream costs one write per that many entries, not one per entry (the cursor's writes were
   * a third of a receiver's time in an 8 B stream's profile). `event`: the one handed over,
   * whose payload leaves the bytes read ahead ({@link LINK_READ_AHEAD_BYTES}).
   */
  handedOut(id: string, seq: bigint, event?: DoraEvent): void {
    const input = this.#inputs.get(id)
    if (input === undefined) return
    input.holding = seq
    if (input.windowed) {
      input.aheadBytes -= payloadBytes(event)
      // Half of what waited is taken: read on (what the socket brought meanwhile is in the log).
      if (input.throttled && this.#buffer.directQueued(id) <= LINK_READ_AHEAD / 2 && input.aheadBytes <= LINK_READ_AHEAD_BYTES / 2) {
        input.throttled = false
        this.#schedulePoll()
      }
    }
    if (seq <= input.cursor.value.inHand) return
    input.pending = undefined
    input.cursor.set({ consumed: seq - 1n, inHand: seq + LINK_MARK_AHEAD })
  }

  /**
   * The program came back for more after entry `seq` of input `id`: consumed. Written with the
   * next write of this input's cursor (an entry handed over past its `inHand`), or once the
   * loop has waited for events {@link LINK_SETTLE_MS} ({@link settleSoon}), or when the node
   * is released; a crash before then brings the entry again, marked redelivered, as
   * at-least-once allows.
   */
  consumed(id: string, seq: bigint): void {
    const input = this.#inputs.get(id)
    if (input === undefined) return
    input.holding = undefined
    input.pending = seq
  }

  /**
   * The loop waits for events: record what it consumed if it is still waiting
   * {@link LINK_SETTLE_MS} from now (a loop that keeps up with a stream waits after nearly
   * every event: a write each time was the other half of the cursor's cost).
   */
  settleSoon(): void {
    if (this.#settleTimer !== undefined || this.#released) return
    let due = false
    for (const input of this.#inputs.values()) if (input.pending !== undefined) due = true
    if (!due) return
    this.#settleTimer = setTimeout(() => {
      this.#settleTimer = undefined
      if (this.#buffer.length === 0) this.settle()
    }, LINK_SETTLE_MS)
    this.#settleTimer.unref()
  }

  /**
   * Record what the program consumed and has not been written yet (the loop leaves, the node is
   * released, or it waited long enough). An entry still in its hands (a loop that broke out
   * while handling it, a node released under a running handler) stays `inHand`: it may have
   * been acted on, so it comes again marked redelivered.
   */
  settle(final = false): void {
    clearTimeout(this.#settleTimer)
    this.#settleTimer = undefined
    for (const input of this.#inputs.values()) {
      if (input.pending === undefined && !final) continue
      const consumed = this.#consumedSoFar(input)
      input.pending = undefined
      // Exact now: `inHand` the entry held, `read` the last entry accounted for (handed over,
      // or dropped by the queue and counted). Not the last read: an entry still waiting in the
      // queue was never the program's, so when it is gone from the log at the end of the run it
      // is a drop the supervisor counts (runtime/supervisor/link-drops.ts), and a restarted
      // process counts it if it finds it gone; past `read`, neither would.
      // Exact for this process only: an earlier one's bounds stand until this one passed them.
      // A process started after a crash re-hands entries up to the dead one's `inHand`, marked;
      // stopped (or released) before it passed them all, writing what it held alone made the
      // rest, which the dead one may have handled, come unmarked in the next process (torture
      // seed 20261260: 35..50 again unmarked after a clean stop that came after entry 34).
      input.cursor.set({
        consumed,
        inHand: atLeast(input.holding ?? 0n, input.inHandBefore, consumed),
        read: atLeast(this.#accountedSoFar(input), input.seenBefore, consumed),
      })
    }
  }

  /**
   * The supervisor says input `id` is closed (its sender closed it, or ended for good): its
   * event `seq` is consumed unseen, the log is read to its end, and the input ends after that.
   */
  supervisorClosed(id: string, seq: number): void {
    this.#buffer.push({ event: undefined, seq })
    const input = this.#inputs.get(id)
    if (input === undefined || input.closed) return
    input.closing = true
    this.poll()
  }

  /**
   * The readers and cursors are closed: an entry handed to the program now could not be marked
   * in its hands first, so the next process would hand it again unmarked (node.ts keeps those
   * still buffered from the program: they stay in their logs for the next process).
   */
  get released(): boolean {
    return this.#released
  }

  /**
   * Close the readers and cursors (idempotent). `closing`: the node closes (not destroyed): an
   * entry the program still holds (its loop broke out on it, or it closed from inside the loop)
   * is consumed if the process then exits with code 0, as the supervisor's path counts the
   * event named by the closing credit (NodeToSupervisor.Credit.heldAtClose): a `for await`
   * loop's end cannot tell a `break` from a throw, the exit code can.
   */
  release(closing = false): void {
    if (this.#released) return
    this.settle(true)
    this.#released = true
    const held: HeldEntry[] = []
    for (const input of this.#inputs.values()) {
      if (closing && input.holding !== undefined) held.push({ dir: input.spec.logDir, cursor: input.spec.cursorName ?? '', seq: input.holding })
      input.reader.close()
      input.cursor.close()
    }
    if (held.length > 0)
      process.once('exit', (code) => {
        if (code === 0) consumeHeld(held)
      })
  }

  #schedulePoll(): void {
    if (this.#pollScheduled || !this.#reading) return
    this.#pollScheduled = true
    setImmediate(() => this.poll())
  }

  /**
   * Read at most `budget` entries of `input`'s log, up to (not including) `until` or to its end;
   * how many were read. `end`: where the first of them ends, as its socket message said.
   */
  #readLog(input: LinkInput, until: bigint | undefined, budget: number, end?: number): number {
    if (!this.#reading) return 0
    let read = 0
    while (!input.closed && read < budget && (until === undefined || input.reader.expected < until) && this.#hasRoom(input)) {
      let entry: LinkEntry | undefined
      try {
        entry = input.reader.next(read === 0 ? end : undefined)
      } catch (err) {
        process.stderr.write(`dora-ts: node "${this.#nodeId}" could not read the link log of input "${input.spec.inputId}": ${errorMessage(err)}\n`)
        return read
      }
      // Entries its sender's log no longer held (more than queue_size waited: see
      // LinkLogWriter.collect) are this input's drops, as if its queue had dropped them.
      const skipped = input.reader.takeSkipped()
      if (skipped > 0n && input.countsSkips) {
        // Not those up to what a previous process may have read (its `read` and `inHand`): it
        // handed them over or counted their drops, or died first; which, no one can tell, so
        // they are not counted twice (up to LINK_MARK_AHEAD uncounted after a crash).
        const after = entry?.seq ?? input.reader.expected
        const from = after - skipped > input.seenBefore ? after - skipped : input.seenBefore + 1n
        if (after > from) this.#counter.dropInput(input.spec.inputId, Number(after - from))
      }
      if (entry !== undefined || skipped > 0n) input.countsSkips = true
      if (entry === undefined) return read
      read++
      this.#fromLog(input, entry)
    }
    return read
  }

  #fromLog(input: LinkInput, entry: LinkEntry): void {
    let message: NodeToNode
    try {
      message = decodeNodeToNode(entry.header)
    } catch (err) {
      // Skipped, and consumed with the next one: the log was written by the SDK, so this is
      // damage (tmpfs does not rot; a bug would), said once per entry.
      process.stderr.write(
        `dora-ts: node "${this.#nodeId}" skipped an undecodable entry ${entry.seq} of the link log of input "${input.spec.inputId}": ${errorMessage(err)}\n`,
      )
      return
    }
    if (message.type === 'link-closed') {
      // This run's close ends the input (consumed with the program's input-closed event); an
      // earlier run's is passed over (consumed with the next entry handed over).
      if (message.dataflowId === this.#dataflowId) this.#close(input, entry.seq)
      return
    }
    if (message.type !== 'input') return
    this.#take(input, entry.seq, directEvent(message, entry.payload, input.spec))
  }

  /** Buffer entry `seq` of `input` as `event` (redelivered if the program held it before). */
  #take(input: LinkInput, seq: bigint, event: DoraEvent): void {
    if (event.type === 'input' && seq <= input.inHandBefore) event.metadata.redelivered = true
    // The cursor's `read` bounds what this process has read: an entry past it was certainly
    // never read here, so when the sender's log no longer holds it, it is a drop no one has
    // counted (the supervisor counts such entries of a receiver that stopped reading:
    // runtime/supervisor/link-drops.ts). Written ahead, once per LINK_MARK_AHEAD entries, with
    // what is consumed so far.
    const cursor = input.cursor.value
    if (seq > cursor.read) {
      // One write for both marks while the program keeps up: an entry with nothing of its
      // input waiting before it is the next handed over, so it is covered as in hand too.
      const next = this.#buffer.oldestLinkSeq(input.spec.inputId) === undefined && seq > cursor.inHand
      input.cursor.set({ consumed: this.#consumedSoFar(input), inHand: next ? seq + LINK_MARK_AHEAD : cursor.inHand, read: seq + LINK_MARK_AHEAD })
      input.pending = undefined
    }
    this.#counter.received++
    if (input.windowed) input.aheadBytes += payloadBytes(event)
    if (this.#buffer.pushDirect(input.spec.inputId, event, Math.max(1, input.spec.queueSize), seq)) this.#counter.dropInput(input.spec.inputId)
  }

  /**
   * Whether one more entry of `input` may be read ahead of its program
   * ({@link LINK_READ_AHEAD}); when not, it is throttled until the program takes half.
   */
  #hasRoom(input: LinkInput): boolean {
    if (!input.windowed) return true
    const waiting = this.#buffer.directQueued(input.spec.inputId)
    if (waiting === 0 || (waiting < LINK_READ_AHEAD && input.aheadBytes < LINK_READ_AHEAD_BYTES)) return true
    input.throttled = true
    return false
  }

  /**
   * Every entry of `input` up to this one is consumed: those before the one the program holds
   * (handed over before it, or dropped by its queue), or the one it came back from last.
   */
  #consumedSoFar(input: LinkInput): bigint {
    if (input.holding !== undefined) return input.holding - 1n
    const known = input.pending ?? input.cursor.value.consumed
    // Nothing held: what its queue dropped before the oldest still waiting is consumed too.
    const queued = this.#buffer.oldestLinkSeq(input.spec.inputId)
    return queued !== undefined && queued - 1n > known ? queued - 1n : known
  }

  /** The last entry of `input` handed over or dropped by its queue: every one read but those still waiting in the queue. */
  #accountedSoFar(input: LinkInput): bigint {
    const queued = this.#buffer.oldestLinkSeq(input.spec.inputId)
    return queued !== undefined ? queued - 1n : input.reader.expected - 1n
  }

  /** End `input` for the program (once); `entrySeq`: the log's close entry, consumed with it. */
  #close(input: LinkInput, entrySeq?: bigint): void {
    if (input.closed) return
    input.closed = true
    const event: DoraEvent = { type: 'input-closed', id: input.spec.inputId }
    this.#buffer.push(entrySeq === undefined ? { event, seq: 0 } : { event, seq: 0, link: { input: input.spec.inputId, seq: entrySeq } })
    this.#onClosed()
  }
}

/** An entry in the program's hands as its node closed: its log folder, cursor and seq. */
interface HeldEntry {
  dir: string
  cursor: string
  seq: bigint
}

/**
 * The process exits with code 0 after its node closed: the entries its program held are
 * consumed (each cursor moves past its entry, only from just before it, as the node's close
 * left it). Synchronous, at exit; a cursor gone meanwhile (the run's links removed) is left.
 */
function consumeHeld(held: readonly HeldEntry[]): void {
  for (const { dir, cursor: name, seq } of held) {
    if (!existsSync(cursorPath(dir, name))) continue
    try {
      const cursor = new LinkCursor(dir, name)
      if (cursor.value.consumed === seq - 1n) cursor.set({ consumed: seq, inHand: cursor.value.inHand })
      cursor.close()
    } catch {
      // Left as the close wrote it: the entry comes again, marked, as after a crash.
    }
  }
}

/** `exact`, or an earlier process's bound `before` when that is higher and not yet passed (`consumed` is below it). */
function atLeast(exact: bigint, before: bigint, consumed: bigint): bigint {
  return before > consumed && before > exact ? before : exact
}

/** The payload bytes `event` holds in the event buffer (what {@link LINK_READ_AHEAD_BYTES} counts). */
function payloadBytes(event: DoraEvent | undefined): number {
  return event?.type === 'input' ? event.data.byteLength : 0
}
