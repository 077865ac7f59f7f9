/**
 * The supervisor's part in the link logs of reliable direct links (src/transport/link-log.ts),
 * done once at the start of a run, before any node is launched:
 * - what every receiver consumed is collected (no sender writes yet);
 * - every receiver's cursor file exists, so a sender never collects entries a receiver that
 *   has not started yet still needs (a missing cursor holds everything, but only while it is
 *   missing: this makes it so from the start);
 * - logs and cursors the dataflow no longer links directly are removed, with a warning that
 *   says how many messages they still held, or their senders would keep every entry for a
 *   receiver that will never read it.
 *
 * @module
 */
import { readdirSync, rmdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { cursorNames, cursorPath, LinkCursor, LinkLogReader, LinkLogWriter, lowestCursor } from '../../src/transport/link-log.js'
import { decodeNodeToNode } from '../../src/protocol/node/codec.js'
import { hasLinkLog } from '../../src/protocol/node/messages.js'
import type { DirectWiring } from './direct-links.js'

/** Prepare `linksDir` for the links of `wiring`; `warn` says what was removed. */
export function prepareLinkLogs(wiring: ReadonlyMap<string, DirectWiring>, linksDir: string, warn: (text: string) => void): void {
  const wanted = new Map<string, Set<string>>()
  for (const w of wiring.values()) {
    for (const input of w.directInputs ?? []) {
      if (!hasLinkLog(input)) continue
      const cursors = wanted.get(input.logDir) ?? new Set<string>()
      cursors.add(input.cursorName ?? '')
      wanted.set(input.logDir, cursors)
    }
  }
  for (const [dir, cursors] of wanted) {
    for (const name of cursors) new LinkCursor(dir, name).close()
    // No sender runs yet: what every receiver consumed in earlier runs can go now.
    compact(dir, [...cursors])
    const gone = cursorNames(dir).filter((name) => !cursors.has(name))
    for (const name of gone) {
      const left = unconsumed(dir, [name])
      rmSync(cursorPath(dir, name), { force: true })
      if (left > 0)
        warn(`${describe(dir)}: ${left} message(s) for ${describeName(name)} were never consumed, and that input is no longer linked directly; dropped`)
    }
  }
  for (const name of names(linksDir)) {
    const dir = join(linksDir, name)
    if (wanted.has(dir)) continue
    const cursors = cursorNames(dir)
    const left = cursors.length === 0 ? 0 : unconsumed(dir, cursors)
    rmSync(dir, { recursive: true, force: true })
    if (left > 0) warn(`${describe(dir)}: ${left} message(s) were never consumed, and the dataflow no longer links that output directly; dropped`)
  }
}

/**
 * At the end of a run, when no node is left to write: collect what every receiver consumed in
 * every link log under `linksDir` (by the cursors in each folder), and remove a log whose
 * every entry was consumed, cursors and all, and then `linksDir` if nothing is left in it: a
 * run that ended with everything delivered leaves nothing of its links in shared memory (the
 * next run starts a removed log again from its first entry, and makes its receivers' cursors
 * before any sender starts: prepareLinkLogs). Never throws: a log that cannot be compacted now
 * is, at the start of the next run.
 */
export function compactLinkLogs(linksDir: string): void {
  for (const name of names(linksDir)) {
    const dir = join(linksDir, name)
    try {
      const cursors = cursorNames(dir)
      if (cursors.length > 0 && compact(dir, cursors)) rmSync(dir, { recursive: true, force: true })
    } catch {
      // Left for the next run's start.
    }
  }
  try {
    rmdirSync(linksDir)
  } catch {
    // Not empty (a log still holds messages for the next run), or never made.
  }
}

/**
 * Collect a link log's consumed files (see LinkLogWriter.compact); a log not there yet is left.
 * True when every entry of the log is consumed (or it has none).
 * Close entries left after the last consumed message count as consumed: a receiver that ended
 * on its Stop never reads the close its sender appended as it ended, and a later run's
 * receivers pass over an earlier run's close anyway (link-inputs.ts).
 */
function compact(dir: string, cursors: readonly string[]): boolean {
  // No log file: its sender never sent, so nothing waits in it.
  if (!names(dir).some((n) => n.endsWith('.log'))) return true
  const lowest = lowestCursor(dir, cursors)
  let consumed = lowest
  const reader = new LinkLogReader(dir, consumed)
  try {
    for (let entry = reader.next(); entry !== undefined; entry = reader.next()) {
      if (!isLinkClose(entry.header)) break
      consumed = entry.seq
    }
  } finally {
    reader.close()
  }
  // The cursors go past those closes too: their files may go now, and a receiver that found
  // its next entries gone would count them as drops of its input (link-inputs.ts).
  if (consumed > lowest) {
    for (const name of cursors) {
      const cursor = new LinkCursor(dir, name)
      try {
        cursor.set({ ...cursor.value, consumed })
      } finally {
        cursor.close()
      }
    }
  }
  const writer = LinkLogWriter.open(dir)
  try {
    writer.compact(consumed)
    return consumed >= writer.nextSeq - 1n
  } finally {
    writer.close()
  }
}

function isLinkClose(header: Uint8Array): boolean {
  try {
    return decodeNodeToNode(header).type === 'link-closed'
  } catch {
    return false
  }
}

function names(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}

/** Entries after the lowest of `cursors` (what some receiver has not consumed). */
function unconsumed(dir: string, cursors: readonly string[]): number {
  const reader = new LinkLogReader(dir, lowestCursor(dir, cursors))
  let count = 0
  try {
    while (reader.next() !== undefined) count++
  } finally {
    reader.close()
  }
  return count
}

/** `sender/output` of a link log folder (direct-links.ts names it `<sender>@<output>`, URI-encoded). */
function describe(dir: string): string {
  const base = dir.slice(dir.lastIndexOf('/') + 1)
  return `the direct link from ${describeName(base)}`
}

/** `a/b` of a name `<a>@<b>` (each URI-encoded); a hashed long name as it is. */
function describeName(name: string): string {
  const parts = name.split('@')
  return parts.length === 2 ? parts.map((p) => safeDecode(p)).join('/') : name
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
