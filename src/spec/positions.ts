/**
 * Line and column of YAML nodes, so every problem points at the exact key or value.
 *
 * @module
 */

import { isPair, type LineCounter, type Node, type Pair } from 'yaml'
import type { SourcePosition } from './types.js'

/** Something that has a place in the YAML text. */
export type Locatable = Node | Pair | SourcePosition | null | undefined

/** Maps YAML nodes and offsets of one file to {@link SourcePosition}s. */
export class Positions {
  /**
   * @param file absolute path of the YAML file
   * @param lines the `LineCounter` passed to `parseDocument`
   */
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  /** Position of a character offset in the text. */
  ofOffset(offset: number): SourcePosition {
    const { line, col } = this.lines.linePos(offset)
    // linePos reports line 0 before the first newline is known (e.g. an empty text).
    return line === 0 ? { file: this.file, line: 1, column: 1 } : { file: this.file, line, column: col }
  }

  /**
   * Position of a node (its first character), of a pair (its key), or `fallback` when the
   * node has no range (it was not parsed from text).
   */
  of(where: Locatable, fallback?: SourcePosition): SourcePosition {
    if (where === null || where === undefined) return fallback ?? { file: this.file, line: 1, column: 1 }
    if (isPair(where)) return this.of(where.key as Node | null, fallback ?? this.of(where.value as Node | null))
    if ('file' in where) return where
    const range = where.range
    if (range === null || range === undefined) return fallback ?? { file: this.file, line: 1, column: 1 }
    return this.ofOffset(range[0])
  }
}
