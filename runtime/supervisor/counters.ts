/**
 * Per unit of a run: messages in and out, and when its current instance started; what
 * `dora-ts list` shows next to each node's status.
 */
export interface UnitCounter {
  in: number
  out: number
  /** Best-effort messages dropped (reported by the node, see direct-links.ts). */
  dropped: number
  /** When the current instance started (ms since epoch); reset on a restart. */
  startedAt: number
  /** The same moment on the monotonic clock (performance.now()), which uptimes are taken from. */
  startedMono: number
}

/** One node or operator as `dora-ts list` shows it. */
export interface UnitInfo {
  name: string
  kind: 'custom' | 'operator'
  status: string
  restarts: number
  /** OS pid: the node's process, or the supervisor's for an operator. */
  pid: number | undefined
  /** Worker thread id of an operator. */
  threadId?: number | undefined
  /** When the current instance started (ms since epoch). */
  startedAt: number
  /**
   * How long the current instance has run (ms), on the supervisor's monotonic clock: what
   * `list` shows, unmoved when NTP steps the wall clock (at boot, on a robot without a
   * real-time clock, by months), where now - startedAt would move with it.
   */
  uptimeMs: number
  messagesIn: number
  messagesOut: number
  /**
   * Messages dropped on their way to or from this unit: its inputs' drop_oldest drops and an
   * operator's best-effort inputs lost with a crash (as in the run result), and a custom node's
   * best-effort links' drops (a full pipe to a receiver, a full queue, a message after its
   * input closed).
   */
  messagesDropped: number
  /**
   * A running custom node's resident memory, its process group's together (group-memory.ts), in
   * bytes, filled in by the supervisor's `list` (it reads /proc); an operator's worker's heap in
   * use and buffers, as max_memory_mb counts them (it shares the supervisor's process).
   */
  residentBytes?: number | undefined
  /**
   * CPU time in seconds: a running custom node's process group's (filled in as residentBytes is),
   * an operator's worker's busy time (OperatorHost.busySeconds).
   */
  cpuSeconds?: number | undefined
  /** The unit's `max_memory_mb`, if it has one. */
  maxMemoryMb?: number | undefined
}

export class UnitCounters {
  readonly #counters = new Map<string, UnitCounter>()

  /** Start counting for unit `key`. */
  add(key: string): void {
    this.#counters.set(key, { in: 0, out: 0, dropped: 0, startedAt: Date.now(), startedMono: performance.now() })
  }

  /** A message was queued for `key`. */
  received(key: string): void {
    const counter = this.#counters.get(key)
    if (counter !== undefined) counter.in++
  }

  /** `key` sent a message on an open output. */
  sent(key: string): void {
    const counter = this.#counters.get(key)
    if (counter !== undefined) counter.out++
  }

  /**
   * The node `key` reported more best-effort traffic: messages it sent on outputs only
   * best-effort receivers read (the supervisor never saw them), received and dropped.
   */
  direct(key: string, more: { sent: bigint; received: bigint; dropped: bigint }): void {
    const counter = this.#counters.get(key)
    if (counter === undefined) return
    counter.out += Number(more.sent)
    counter.in += Number(more.received)
    counter.dropped += Number(more.dropped)
  }

  /** `key` was started again after a crash. */
  restarted(key: string): void {
    const counter = this.#counters.get(key)
    if (counter === undefined) return
    counter.startedAt = Date.now()
    counter.startedMono = performance.now()
  }

  /** The counts of `key` (zeros for an unknown key). */
  get(key: string): Readonly<UnitCounter> {
    return this.#counters.get(key) ?? { in: 0, out: 0, dropped: 0, startedAt: 0, startedMono: performance.now() }
  }
}
