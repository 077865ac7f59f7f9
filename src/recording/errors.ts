/** Errors of `dora-ts record` and `dora-ts replay`, each with a stable code. */
import { DoraError, registerErrorClass, type DoraErrorOptions } from '../errors.js'

/** A file that is not a recording, or a recording whose header is damaged. */
export class RecordingInvalidError extends DoraError {
  declare readonly code: 'DORA_RECORDING_INVALID'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_RECORDING_INVALID', message, options)
  }
}

/**
 * What to record or replay does not fit the dataflow: a topic it does not have, a node the
 * recording did not record, a node replay cannot stand in for.
 */
export class RecordingPlanError extends DoraError {
  declare readonly code: 'DORA_RECORDING_PLAN'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_RECORDING_PLAN', message, options)
  }
}

for (const cls of [RecordingInvalidError, RecordingPlanError]) registerErrorClass(cls)
