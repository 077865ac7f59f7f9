/**
 * The supervisor's count of messages a reliable direct input will never get because its
 * sender's link log no longer holds them: a receiver that stopped reading (hung, or ended for
 * good) has its sender remove the log files past the newest `queue_size` entries
 * (LinkLogWriter.collect). The receiver's SDK counts such a gap as drops of its input, but only
 * when it reads again: a hung receiver's drops showed late in `dora-ts list`, and a dead one's
 * in the next run's report, where the supervisor's own path counts them as they happen. So the
 * supervisor reads the log and the cursor itself. The cursor's `read` bounds what the
 * receiver's process may have read (node-sdk/link-inputs.ts): an entry gone past it (and past
 * `inHand`, `consumed`) was never read, so no one counted it, nor will but its next read. So:
 * - live ({@link pendingOf}, for `dora-ts list`): those entries, which its SDK counts itself
 *   when it reads again; nothing is remembered, so once it has they stop showing here;
 * - at the end of the run ({@link settle}, no node left): those entries are this run's drops,
 *   and its cursor is moved past every entry gone, so the next run's receiver counts none of
 *   them again. A receiver that ended cleanly wrote exactly what it read; one that was killed
 *   may have read up to LINK_MARK_AHEAD entries past its last one or not (handed over, counted
 *   as drops of its queue): those are not counted.
 *
 * A receiver whose cursor was never written is left alone, as its SDK leaves it: older entries
 * are the log's past (other receivers', earlier runs'), not messages it had coming.
 *
 * @module
 */
import { hasLinkLog } from '../../src/protocol/node/messages.js'
import { lastMayHaveRead, LinkCursor, oldestLogSeq, readCursor, type CursorValue } from '../../src/transport/link-log.js'
import type { DirectWiring } from './direct-links.js'

/** A reliable direct input: where its sender's log is, and its cursor there. */
interface LoggedInput {
  inputId: string
  logDir: string
  cursorName: string
}

export class LinkDrops {
  /** Per receiving node id, its inputs read from a link log. */
  readonly #inputs = new Map<string, LoggedInput[]>()

  constructor(wiring: ReadonlyMap<string, DirectWiring>) {
    for (const [nodeId, w] of wiring) {
      const logged = (w.directInputs ?? []).filter(hasLinkLog).map((i) => ({ inputId: i.inputId, logDir: i.logDir, cursorName: i.cursorName ?? '' }))
      if (logged.length > 0) this.#inputs.set(nodeId, logged)
    }
  }

  /**
   * Messages of node `nodeId`'s reliable direct inputs its sender's log no longer holds, that
   * its process never read, so has not counted yet. Never throws (a file that cannot be read
   * counts nothing now).
   */
  pendingOf(nodeId: string): number {
    let pending = 0
    for (const input of this.#inputs.get(nodeId) ?? []) {
      try {
        pending += Number(goneUnread(input, lastMayHaveRead)?.gone ?? 0n)
      } catch {
        // Counted by the receiver when it reads again, or at the end of the run.
      }
    }
    return pending
  }

  /**
   * At the end of a run, when no node is left to read or write a log: `count` each input's
   * messages gone from its sender's log past what it may have read, and move its cursor past
   * every gone entry. An input whose cursor cannot be written is not counted here (its next
   * run's receiver counts them). Never throws.
   */
  settle(count: (nodeId: string, inputId: string, dropped: number) => void): void {
    for (const [nodeId, inputs] of this.#inputs) {
      for (const input of inputs) {
        try {
          const found = goneUnread(input, (c) => c.consumed)
          if (found === undefined) continue
          const { oldest, cursor } = found
          const written = new LinkCursor(input.logDir, input.cursorName)
          try {
            // An entry it may have held when it ended that is still there comes again marked
            // redelivered; one that is gone is past saying.
            written.set({
              consumed: oldest - 1n,
              inHand: cursor.inHand >= oldest ? cursor.inHand : 0n,
              read: cursor.read >= oldest ? cursor.read : oldest - 1n,
            })
          } finally {
            written.close()
          }
          const unread = oldest - 1n - lastMayHaveRead(cursor)
          if (unread > 0n) count(nodeId, input.inputId, Number(unread))
        } catch {
          // Left for the next run's receiver to count.
        }
      }
    }
  }
}

/**
 * The entries of `input`'s log gone past `past(cursor)`, with the oldest seq still there and the
 * cursor; undefined when none are, or the cursor is untouched (or missing), or the log empty.
 */
function goneUnread(input: LoggedInput, past: (cursor: CursorValue) => bigint): { gone: bigint; oldest: bigint; cursor: CursorValue } | undefined {
  const cursor = readCursor(input.logDir, input.cursorName)
  if (cursor === undefined || (cursor.consumed === 0n && cursor.inHand === 0n && cursor.read === 0n)) return undefined
  const oldest = oldestLogSeq(input.logDir)
  if (oldest === undefined) return undefined
  const gone = oldest - 1n - past(cursor)
  return gone > 0n ? { gone, oldest, cursor } : undefined
}
