/** Errors of the supervisor daemon and its control plane, each with a stable code. */
import { DoraError, registerErrorClass, type DoraErrorOptions } from '../../src/errors.js'

/** No supervisor daemon is running (or only a stale pid file / socket of a dead one). */
export class DaemonNotRunningError extends DoraError {
  declare readonly code: 'DORA_DAEMON_NOT_RUNNING'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_DAEMON_NOT_RUNNING', message, options)
  }
}

/** A daemon process exists but does not answer on its control socket. */
export class DaemonUnresponsiveError extends DoraError {
  declare readonly code: 'DORA_DAEMON_UNRESPONSIVE'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_DAEMON_UNRESPONSIVE', message, options)
  }
}

/** No running or recent dataflow has that name or id. */
export class UnknownDataflowError extends DoraError {
  declare readonly code: 'DORA_DAEMON_UNKNOWN_DATAFLOW'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_DAEMON_UNKNOWN_DATAFLOW', message, options)
  }
}

/** A dataflow with that name already runs on this supervisor. */
export class DataflowNameInUseError extends DoraError {
  declare readonly code: 'DORA_DAEMON_NAME_IN_USE'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_DAEMON_NAME_IN_USE', message, options)
  }
}

/** The dataflow has no node or operator by that name. */
export class UnknownNodeError extends DoraError {
  declare readonly code: 'DORA_DAEMON_UNKNOWN_NODE'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_DAEMON_UNKNOWN_NODE', message, options)
  }
}

/** `dora-ts restart` named a node that has ended for good, or its dataflow is stopping. */
export class NotRestartableError extends DoraError {
  declare readonly code: 'DORA_DAEMON_NOT_RESTARTABLE'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_DAEMON_NOT_RESTARTABLE', message, options)
  }
}

/** `dora-ts stop NAME NODE` named a node that has ended, or its dataflow is stopping. */
export class NotStoppableError extends DoraError {
  declare readonly code: 'DORA_DAEMON_NOT_STOPPABLE'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_DAEMON_NOT_STOPPABLE', message, options)
  }
}

/** `dora-ts topic echo` or `hz` named an output the dataflow does not have. */
export class UnknownTopicError extends DoraError {
  declare readonly code: 'DORA_DAEMON_UNKNOWN_TOPIC'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_DAEMON_UNKNOWN_TOPIC', message, options)
  }
}

/** `dora-ts topic echo` or `hz` named an output whose messages pass nowhere a tap can see them. */
export class TopicNotTappableError extends DoraError {
  declare readonly code: 'DORA_DAEMON_TOPIC_NOT_TAPPABLE'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_DAEMON_TOPIC_NOT_TAPPABLE', message, options)
  }
}

/** `dora-ts topic pub` named an output that has closed (its sender ended or closed it), or its dataflow is stopping. */
export class TopicClosedError extends DoraError {
  declare readonly code: 'DORA_DAEMON_TOPIC_CLOSED'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_DAEMON_TOPIC_CLOSED', message, options)
  }
}

/** A control request the daemon does not understand. */
export class BadControlRequestError extends DoraError {
  declare readonly code: 'DORA_DAEMON_BAD_REQUEST'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_DAEMON_BAD_REQUEST', message, options)
  }
}

/** The folder of the runs' log files cannot be made (a read-only file system, not writable). */
export class LogDirError extends DoraError {
  declare readonly code: 'DORA_LOG_DIR'
  constructor(message: string, options: DoraErrorOptions = {}) {
    super('DORA_LOG_DIR', message, options)
  }
}

for (const cls of [
  DaemonNotRunningError,
  DaemonUnresponsiveError,
  UnknownDataflowError,
  DataflowNameInUseError,
  UnknownNodeError,
  NotRestartableError,
  NotStoppableError,
  UnknownTopicError,
  TopicNotTappableError,
  TopicClosedError,
  BadControlRequestError,
  LogDirError,
]) {
  registerErrorClass(cls)
}
