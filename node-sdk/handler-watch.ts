/**
 * A custom node's program that has been on one event for long says so, on its stderr (the run
 * shows and logs it as the node's line), as an operator's host does for an operator: a handler
 * awaiting something that never settles (a device read without a timeout, a request to a
 * service that is down) held the node's inputs in their queues and stopped its outputs, and on
 * a direct link the supervisor, which sees no message of it, could not tell. A handler that
 * blocks the thread itself (a synchronous call) stops every timer too: that is said when the
 * thread runs again, with how long nothing of the node ran.
 *
 * @module
 */
import { LongHandlerWatch, secondsText } from '../src/long-handler-watch.js'
import { positiveEnvNumber } from '../src/env-number.js'

/** How long the program may be on one event before it is said (ms), as for operators (runtime/operator/host.ts SLOW_WARNING_S). */
export const HANDLER_WARNING_MS = 10_000

/** A test seam: another warning time, in ms (the tests cannot wait 10 s for each case). */
export const HANDLER_WARNING_ENV = 'DORA_TS_HANDLER_WARNING_MS'

function warningMs(): number {
  return positiveEnvNumber(HANDLER_WARNING_ENV, HANDLER_WARNING_MS)
}

/** What `events()` tells it: the program took an event, came back for the next, or left the loop. */
export class NodeHandlerWatch {
  readonly #nodeId: string
  /** What the program is on (`input "frames"`), if it is on an event. */
  #current: string | undefined
  readonly #watch: LongHandlerWatch

  constructor(nodeId: string, write: (line: string) => void = (line) => process.stderr.write(`${line}\n`)) {
    this.#nodeId = nodeId
    this.#watch = new LongHandlerWatch({
      warnAfterMs: warningMs(),
      busy: () => this.#current !== undefined,
      stalled: (ms) =>
        write(
          `dora-ts: node "${this.#nodeId}" has been handling one event (${this.#current ?? 'an event'}) for ${secondsText(ms)} s: its program has not come back for the next one (a handler awaiting something that never settles, such as a device read without a timeout), so its inputs wait in their queues, the oldest dropped past queue_size, and it sends nothing meanwhile. If it is only slow, this is all.`,
        ),
      resumed: (ms) => write(`dora-ts: node "${this.#nodeId}" is through that event, about ${secondsText(ms)} s after it began`),
      blocked: (ms) =>
        write(
          `dora-ts: nothing of node "${this.#nodeId}" ran for ${secondsText(ms)} s: its thread was held by a synchronous call (a loop, a blocking read) or the process was stopped; its inputs waited meanwhile. Long work belongs in a worker thread or an awaited call.`,
        ),
    })
  }

  /** The program was handed an event: an input's id, or another event's type. */
  taken(what: string): void {
    this.#current = what
  }

  /** The program came back for the next event. */
  through(): void {
    this.#current = undefined
    this.#watch.through()
  }

  /** The program left the loop (break, return, a throw): it is on no event. */
  left(): void {
    this.#current = undefined
  }

  close(): void {
    this.#watch.close()
  }
}
