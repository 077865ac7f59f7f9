/**
 * Errors raised while loading a dataflow YAML. Every problem is a {@link SpecError} subclass
 * with a stable `code` and the exact file, line and column it is about; {@link loadDataflow}
 * collects all of them and throws one {@link SpecErrors} so `dora-ts check` shows every
 * mistake at once.
 *
 * @module
 */

import { relative, isAbsolute } from 'node:path'
import { DoraError, registerErrorClass, type CodesStartingWith, type DoraErrorOptions } from '../errors.js'

/** The code of each kind of problem a dataflow YAML can have (rows of {@link ERROR_CODES}). */
export type SpecErrorCode = Exclude<CodesStartingWith<'DORA_SPEC_'>, 'DORA_SPEC_INVALID'>

/** Where a problem is and which node it belongs to. */
export type SpecErrorLocation = {
  /** Absolute path of the YAML file. */
  file: string
  /** 1-based line; 0 when the problem is about the whole file (e.g. it cannot be read). */
  line: number
  /** 1-based column; 0 together with `line`. */
  column: number
  nodeId?: string | undefined
  operatorId?: string | undefined
}

/** Options of every {@link SpecError} constructor. */
export interface SpecErrorOptions extends Partial<SpecErrorLocation>, DoraErrorOptions {}

/**
 * One problem in a dataflow YAML. The message names the file, line, column and node, e.g.
 * `dataflow.yml:12:15: node "obstacle-filter": input "scan" reads from "lidar/scann", but node
 * "lidar" has no output "scann" (did you mean "scan"?)`. Build one with {@link createSpecError}.
 */
export abstract class SpecError extends DoraError {
  declare readonly code: SpecErrorCode
  /** Absolute path of the YAML file. */
  readonly file: string
  /** 1-based line, 0 for whole-file problems. */
  readonly line: number
  /** 1-based column, 0 for whole-file problems. */
  readonly column: number
  readonly nodeId: string | undefined
  readonly operatorId: string | undefined

  constructor(code: SpecErrorCode, message: string, options: SpecErrorOptions = {}) {
    super(code, message, { hint: options.hint, cause: options.cause })
    // '' and 0 only for an error rebuilt from a form that lost its context (an older peer).
    this.file = options.file ?? ''
    this.line = options.line ?? 0
    this.column = options.column ?? 0
    this.nodeId = options.nodeId
    this.operatorId = options.operatorId
  }

  /** The place, carried across threads and processes by {@link serializeError}. */
  override get context(): SpecErrorLocation {
    return { file: this.file, line: this.line, column: this.column, nodeId: this.nodeId, operatorId: this.operatorId }
  }

  /** Matches any dora-ts spec problem, also one made in another realm (by its code). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== SpecError) return super[Symbol.hasInstance](value)
    if (!DoraError[Symbol.hasInstance](value)) return false
    const code = (value as DoraError).code
    return code.startsWith('DORA_SPEC_') && code !== 'DORA_SPEC_INVALID'
  }
}

type SpecErrorClass = new (message: string, options?: SpecErrorOptions) => SpecError

/** The YAML file itself cannot be read. */
export class SpecFileNotFoundError extends SpecError {
  declare readonly code: 'DORA_SPEC_FILE_NOT_FOUND'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_FILE_NOT_FOUND', message, options)
  }
}
registerErrorClass(SpecFileNotFoundError)

/** The text is not valid YAML. */
export class SpecYamlSyntaxError extends SpecError {
  declare readonly code: 'DORA_SPEC_YAML_SYNTAX'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_YAML_SYNTAX', message, options)
  }
}
registerErrorClass(SpecYamlSyntaxError)

/** A key dora-ts does not know at that level (with a did-you-mean). */
export class SpecUnknownKeyError extends SpecError {
  declare readonly code: 'DORA_SPEC_UNKNOWN_KEY'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_UNKNOWN_KEY', message, options)
  }
}
registerErrorClass(SpecUnknownKeyError)

/** The same key appears twice in one mapping. */
export class SpecDuplicateKeyError extends SpecError {
  declare readonly code: 'DORA_SPEC_DUPLICATE_KEY'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_DUPLICATE_KEY', message, options)
  }
}
registerErrorClass(SpecDuplicateKeyError)

/** A dora key that dora-ts accepts but does not support yet. */
export class SpecNotSupportedError extends SpecError {
  declare readonly code: 'DORA_SPEC_NOT_SUPPORTED'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_NOT_SUPPORTED', message, options)
  }
}
registerErrorClass(SpecNotSupportedError)

/** A required key is missing (`nodes`, `id`, one of `path`/`operator`/`operators`, ...). */
export class SpecMissingKeyError extends SpecError {
  declare readonly code: 'DORA_SPEC_MISSING_KEY'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_MISSING_KEY', message, options)
  }
}
registerErrorClass(SpecMissingKeyError)

/** A value has the wrong type or is out of range. */
export class SpecInvalidValueError extends SpecError {
  declare readonly code: 'DORA_SPEC_INVALID_VALUE'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_INVALID_VALUE', message, options)
  }
}
registerErrorClass(SpecInvalidValueError)

/** A node, operator, input or output id breaks the id rules. */
export class SpecInvalidIdError extends SpecError {
  declare readonly code: 'DORA_SPEC_INVALID_ID'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_INVALID_ID', message, options)
  }
}
registerErrorClass(SpecInvalidIdError)

/** Two nodes, operators of one node, outputs or inputs share an id. */
export class SpecDuplicateIdError extends SpecError {
  declare readonly code: 'DORA_SPEC_DUPLICATE_ID'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_DUPLICATE_ID', message, options)
  }
}
registerErrorClass(SpecDuplicateIdError)

/** A node has `path` and `operator`/`operators`. */
export class SpecPathAndOperatorError extends SpecError {
  declare readonly code: 'DORA_SPEC_PATH_AND_OPERATOR'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_PATH_AND_OPERATOR', message, options)
  }
}
registerErrorClass(SpecPathAndOperatorError)

/** Keys that exclude each other: `operator` + `operators`, `typescript` + `javascript`. */
export class SpecConflictingKeysError extends SpecError {
  declare readonly code: 'DORA_SPEC_CONFLICTING_KEYS'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_CONFLICTING_KEYS', message, options)
  }
}
registerErrorClass(SpecConflictingKeysError)

/** An input source that is neither a timer nor `node/output` / `node/operator/output`. */
export class SpecBadInputError extends SpecError {
  declare readonly code: 'DORA_SPEC_BAD_INPUT'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_BAD_INPUT', message, options)
  }
}
registerErrorClass(SpecBadInputError)

/** A `dora/timer/...` source with a bad unit or a zero, negative or non-numeric interval. */
export class SpecBadTimerError extends SpecError {
  declare readonly code: 'DORA_SPEC_BAD_TIMER'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_BAD_TIMER', message, options)
  }
}
registerErrorClass(SpecBadTimerError)

/** An input reads from a node that does not exist. */
export class SpecUnknownSourceNodeError extends SpecError {
  declare readonly code: 'DORA_SPEC_UNKNOWN_SOURCE_NODE'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_UNKNOWN_SOURCE_NODE', message, options)
  }
}
registerErrorClass(SpecUnknownSourceNodeError)

/** An input reads from `node/operator/output` and the node has no such operator. */
export class SpecUnknownSourceOperatorError extends SpecError {
  declare readonly code: 'DORA_SPEC_UNKNOWN_SOURCE_OPERATOR'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_UNKNOWN_SOURCE_OPERATOR', message, options)
  }
}
registerErrorClass(SpecUnknownSourceOperatorError)

/** An input reads an output the source node (or operator) does not declare. */
export class SpecUnknownSourceOutputError extends SpecError {
  declare readonly code: 'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_UNKNOWN_SOURCE_OUTPUT', message, options)
  }
}
registerErrorClass(SpecUnknownSourceOutputError)

/** A node id list (`exit_when_nodes_finish`) names a node that does not exist. */
export class SpecUnknownNodeError extends SpecError {
  declare readonly code: 'DORA_SPEC_UNKNOWN_NODE'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_UNKNOWN_NODE', message, options)
  }
}
registerErrorClass(SpecUnknownNodeError)

/** A `path`, `typescript` or `javascript` file does not exist. */
export class SpecMissingFileError extends SpecError {
  declare readonly code: 'DORA_SPEC_MISSING_FILE'
  constructor(message: string, options: SpecErrorOptions = {}) {
    super('DORA_SPEC_MISSING_FILE', message, options)
  }
}
registerErrorClass(SpecMissingFileError)

const CLASSES: Record<SpecErrorCode, SpecErrorClass> = {
  DORA_SPEC_FILE_NOT_FOUND: SpecFileNotFoundError,
  DORA_SPEC_YAML_SYNTAX: SpecYamlSyntaxError,
  DORA_SPEC_UNKNOWN_KEY: SpecUnknownKeyError,
  DORA_SPEC_DUPLICATE_KEY: SpecDuplicateKeyError,
  DORA_SPEC_NOT_SUPPORTED: SpecNotSupportedError,
  DORA_SPEC_MISSING_KEY: SpecMissingKeyError,
  DORA_SPEC_INVALID_VALUE: SpecInvalidValueError,
  DORA_SPEC_INVALID_ID: SpecInvalidIdError,
  DORA_SPEC_DUPLICATE_ID: SpecDuplicateIdError,
  DORA_SPEC_PATH_AND_OPERATOR: SpecPathAndOperatorError,
  DORA_SPEC_CONFLICTING_KEYS: SpecConflictingKeysError,
  DORA_SPEC_BAD_INPUT: SpecBadInputError,
  DORA_SPEC_BAD_TIMER: SpecBadTimerError,
  DORA_SPEC_UNKNOWN_SOURCE_NODE: SpecUnknownSourceNodeError,
  DORA_SPEC_UNKNOWN_SOURCE_OPERATOR: SpecUnknownSourceOperatorError,
  DORA_SPEC_UNKNOWN_SOURCE_OUTPUT: SpecUnknownSourceOutputError,
  DORA_SPEC_UNKNOWN_NODE: SpecUnknownNodeError,
  DORA_SPEC_MISSING_FILE: SpecMissingFileError,
}

/** Every spec error code, for docs and tests. */
export const SPEC_ERROR_CODES = Object.keys(CLASSES) as SpecErrorCode[]

/**
 * The file as it is printed in messages: relative to the working directory when inside it
 * (as compilers print), absolute otherwise.
 */
export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file)
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel
}

/** `file:line:column: node "x" operator "y": ` */
function formatPrefix(at: SpecErrorLocation): string {
  let prefix = displayPath(at.file)
  if (at.line > 0) prefix += `:${at.line}:${at.column}`
  prefix += ': '
  if (at.nodeId !== undefined) {
    prefix += `node "${at.nodeId}"`
    if (at.operatorId !== undefined) prefix += ` operator "${at.operatorId}"`
    prefix += ': '
  }
  return prefix
}

/**
 * Build the {@link SpecError} subclass for `code`, its message prefixed with the place.
 *
 * @example
 * createSpecError('DORA_SPEC_BAD_TIMER', 'unknown timer unit "minutes"',
 *   { file: '/abs/dataflow.yml', line: 4, column: 13, nodeId: 'lidar' },
 *   'use secs, millis, micros, nanos or hz')
 */
export function createSpecError(code: SpecErrorCode, detail: string, at: SpecErrorLocation, hint?: string, cause?: unknown): SpecError {
  const cls = CLASSES[code]
  return new cls(formatPrefix(at) + detail, { ...at, hint, cause })
}

/**
 * All problems of one dataflow YAML, thrown by {@link loadDataflow} and {@link parseDataflow}.
 * The message lists each problem on its own line; {@link SpecErrors.describe} adds each hint.
 */
export class SpecErrors extends DoraError {
  declare readonly code: 'DORA_SPEC_INVALID'
  /** The problems, sorted by line and column; they cross threads and processes as `errors`. */
  readonly errors: readonly SpecError[]

  /** Pass the problems (the usual use), or a finished message (rebuilding a serialized one). */
  constructor(errorsOrMessage: readonly SpecError[] | string, options: DoraErrorOptions = {}) {
    const errors = typeof errorsOrMessage === 'string' ? [] : sortErrors(errorsOrMessage)
    const message = typeof errorsOrMessage === 'string' ? errorsOrMessage : summarize(errors)
    // The default hint (`dora-ts check`) comes from the DORA_SPEC_INVALID row of the table.
    super('DORA_SPEC_INVALID', message, options)
    this.errors = errors
  }

  /** Each problem with its hint under it, then the overall hint. */
  override describe(): string {
    if (this.errors.length === 0) return super.describe()
    const lines = [this.message.split('\n')[0] ?? '']
    for (const err of this.errors) {
      lines.push(`  ${err.message}`)
      if (err.hint !== undefined) lines.push(`    hint: ${err.hint}`)
    }
    return lines.join('\n')
  }
}
// Rebuilt from its members, so a SpecErrors from a worker or a child lists its problems again.
registerErrorClass(SpecErrors, ({ message, hint, cause, errors }) => {
  const problems = errors.filter((e): e is SpecError => e instanceof SpecError)
  return problems.length === 0 ? new SpecErrors(message, { hint, cause }) : new SpecErrors(problems, { hint, cause })
})

function sortErrors(errors: readonly SpecError[]): SpecError[] {
  return [...errors].sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column)
}

function summarize(errors: readonly SpecError[]): string {
  const files = [...new Set(errors.map((e) => e.file))]
  const where = files.length === 1 && files[0] !== undefined ? displayPath(files[0]) : 'dataflow'
  const count = errors.length === 1 ? '1 problem' : `${errors.length} problems`
  return [`${where}: invalid dataflow, ${count}:`, ...errors.map((e) => `  ${e.message}`)].join('\n')
}
