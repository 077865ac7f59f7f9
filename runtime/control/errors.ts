/** Errors of the control-socket client itself (the daemon's own errors are in runtime/daemon/errors.ts). */
import { DoraError, registerErrorClass, type DoraErrorOptions } from '../../src/errors.js'

/**
 * A request was made on, or was still waiting when its caller closed, a {@link ControlClient}.
 * Code `DORA_CONTROL_CLOSED`.
 */
export class ControlClientClosedError extends DoraError {
  declare readonly code: 'DORA_CONTROL_CLOSED'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_CONTROL_CLOSED', message, options)
  }
}

registerErrorClass(ControlClientClosedError)
