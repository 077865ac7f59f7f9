/**
 * Collects the problems of one dataflow YAML, so validation reports all of them at once.
 *
 * @module
 */

import { createSpecError, SpecErrors, type SpecError, type SpecErrorCode } from './errors.js'
import type { Locatable, Positions } from './positions.js'

/** The node (and operator) a problem belongs to. */
export interface Scope {
  nodeId?: string | undefined
  operatorId?: string | undefined
}

/** A list of {@link SpecError}s with their positions resolved from YAML nodes. */
export class Problems {
  readonly errors: SpecError[] = []
  /** Things accepted but changed on the way in (dora's `queue_size: 0` read as 1), as `file:line:col: text`. */
  readonly notes: string[] = []

  constructor(readonly positions: Positions) {}

  /** Record a problem at `where` (a YAML node, pair or position). */
  add(code: SpecErrorCode, where: Locatable, scope: Scope, detail: string, hint?: string): void {
    const at = this.positions.of(where)
    this.errors.push(createSpecError(code, detail, { ...at, nodeId: scope.nodeId, operatorId: scope.operatorId }, hint))
  }

  /** Record a note: the YAML is accepted, but the user should know what it was read as. */
  note(where: Locatable, scope: Scope, text: string): void {
    const at = this.positions.of(where)
    const node = scope.nodeId === undefined ? '' : ` (node "${scope.nodeId}"${scope.operatorId === undefined ? '' : `, operator "${scope.operatorId}"`})`
    this.notes.push(`${at.file}:${at.line}:${at.column}${node}: ${text}`)
  }

  get count(): number {
    return this.errors.length
  }

  /** Throw a {@link SpecErrors} holding every problem, if there is any. */
  throwIfAny(): void {
    if (this.errors.length > 0) throw new SpecErrors(this.errors)
  }
}
