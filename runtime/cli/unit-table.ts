/**
 * How `dora-ts list` and `dora-ts top` print nodes: the table, and the cells they share.
 *
 * @module
 */
import type { UnitInfo } from '../supervisor/counters.js'

/** Columns padded to their widest cell, indented by two spaces. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    `  ${cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`
  return line(header) + rows.map(line).join('')
}

/** The cells that say which unit a row is and how it is: NODE, KIND, STATUS, RESTARTS, PID. */
export function unitCells(u: UnitInfo): string[] {
  return [u.name, u.kind, u.status, String(u.restarts), pidOf(u)]
}

/** `pid`, or `pid/t<thread>` for an operator (its worker thread in the supervisor's process). */
export function pidOf(u: UnitInfo): string {
  if (u.pid === undefined) return '-'
  return u.kind === 'operator' ? `${u.pid}/t${u.threadId ?? '-'}` : String(u.pid)
}

/** A custom node's resident memory or an operator's heap and buffers, and its max_memory_mb if it has one. */
export function memoryOf(u: UnitInfo): string {
  if (u.residentBytes === undefined) return '-'
  const held = formatBytes(u.residentBytes)
  return u.maxMemoryMb === undefined ? held : `${held} of ${u.maxMemoryMb} MiB`
}

/** A unit's CPU use as `ps` gives it: its CPU time over its uptime ('-' when not known). */
export function cpuSinceStart(u: UnitInfo): string {
  return u.cpuSeconds === undefined || u.uptimeMs <= 0 ? '-' : percentOfCore(u.cpuSeconds, u.uptimeMs)
}

/** CPU time over a span, in percent of one core (a node busy on two cores reads 200%). */
export function percentOfCore(cpuSeconds: number, overMs: number): string {
  return `${Math.round((cpuSeconds * 100_000) / overMs)}%`
}

export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${(n / 1024 / 1024).toFixed(1)} MiB`
}
