/**
 * The one table of every error code dora-ts can raise: which class raises it, where that class
 * lives, what the code means and, for a few, the hint printed when the thrower gives none.
 *
 * Why one table: codes are a public contract (scripts branch on `err.code`), so each must be
 * listed once, belong to one class and be documented. The {@link DoraErrorCode} union is derived
 * from this object, so a class cannot use a code that is not listed; `registerErrorClass` checks
 * the class name against `className` when a module loads; `test/error-codes.test.ts` checks that
 * every code has exactly one class; and the README's `## Errors` table is generated from here
 * (`npm run gen:errors`), so docs and code cannot drift apart.
 *
 * This module holds data only and imports nothing, so scripts and the docs generator can load
 * it without starting anything.
 *
 * @module
 */

/** One row of {@link ERROR_CODES}. */
export interface ErrorCodeInfo {
  /** Name of the one class that raises the code. */
  readonly className: string
  /** Source file that defines the class, relative to the package root. */
  readonly module: string
  /** One line: what went wrong. The README's "meaning" column. */
  readonly doc: string
  /** Hint used when the thrower passes none (most throwers pass a hint naming the place). */
  readonly hint?: string
}

/**
 * Every error code, grouped by the part of dora-ts that raises it. The order is the README's.
 *
 * @example
 * ```ts
 * ERROR_CODES.DORA_KVS_MAP_FULL.doc // 'no room left in the KVS (its map size); ...'
 * ```
 */
export const ERROR_CODES = {
  // The dataflow YAML (src/spec/errors.ts). DORA_SPEC_INVALID wraps the list of problems.
  DORA_SPEC_INVALID: {
    className: 'SpecErrors',
    module: 'src/spec/errors.ts',
    doc: 'the dataflow YAML has mistakes; each is listed with its own code below',
    hint: 'Fix the problems listed above; `dora-ts check <file>` re-checks the dataflow without running it.',
  },
  DORA_SPEC_FILE_NOT_FOUND: { className: 'SpecFileNotFoundError', module: 'src/spec/errors.ts', doc: 'the dataflow file does not exist or cannot be read' },
  DORA_SPEC_YAML_SYNTAX: { className: 'SpecYamlSyntaxError', module: 'src/spec/errors.ts', doc: 'YAML syntax error (or more than one YAML document)' },
  DORA_SPEC_UNKNOWN_KEY: { className: 'SpecUnknownKeyError', module: 'src/spec/errors.ts', doc: 'a key dora-ts does not know (with a did-you-mean)' },
  DORA_SPEC_DUPLICATE_KEY: { className: 'SpecDuplicateKeyError', module: 'src/spec/errors.ts', doc: 'the same key twice in one mapping' },
  DORA_SPEC_NOT_SUPPORTED: { className: 'SpecNotSupportedError', module: 'src/spec/errors.ts', doc: 'a dora key or value dora-ts does not support yet' },
  DORA_SPEC_MISSING_KEY: {
    className: 'SpecMissingKeyError',
    module: 'src/spec/errors.ts',
    doc: "a required key is missing (`nodes`, `id`, a node's `path`/`operator`, ...)",
  },
  DORA_SPEC_INVALID_VALUE: { className: 'SpecInvalidValueError', module: 'src/spec/errors.ts', doc: 'a value of the wrong type or range' },
  DORA_SPEC_INVALID_ID: { className: 'SpecInvalidIdError', module: 'src/spec/errors.ts', doc: "an id that breaks dora's id rule" },
  DORA_SPEC_DUPLICATE_ID: { className: 'SpecDuplicateIdError', module: 'src/spec/errors.ts', doc: 'two nodes, operators, inputs or outputs share an id' },
  DORA_SPEC_PATH_AND_OPERATOR: { className: 'SpecPathAndOperatorError', module: 'src/spec/errors.ts', doc: 'a node has `path` and `operator`/`operators`' },
  DORA_SPEC_CONFLICTING_KEYS: {
    className: 'SpecConflictingKeysError',
    module: 'src/spec/errors.ts',
    doc: 'keys that exclude each other (`operator` and `operators`, `typescript` and `javascript`, ...)',
  },
  DORA_SPEC_BAD_INPUT: {
    className: 'SpecBadInputError',
    module: 'src/spec/errors.ts',
    doc: 'an input source that is neither `node/output`, `node/operator/output` nor a timer',
  },
  DORA_SPEC_BAD_TIMER: { className: 'SpecBadTimerError', module: 'src/spec/errors.ts', doc: 'a malformed or zero timer' },
  DORA_SPEC_UNKNOWN_SOURCE_NODE: {
    className: 'SpecUnknownSourceNodeError',
    module: 'src/spec/errors.ts',
    doc: 'an input reads from a node that does not exist',
  },
  DORA_SPEC_UNKNOWN_SOURCE_OPERATOR: {
    className: 'SpecUnknownSourceOperatorError',
    module: 'src/spec/errors.ts',
    doc: 'an input reads from an operator its node does not have',
  },
  DORA_SPEC_UNKNOWN_SOURCE_OUTPUT: {
    className: 'SpecUnknownSourceOutputError',
    module: 'src/spec/errors.ts',
    doc: 'an input reads an output its source node or operator does not declare',
  },
  DORA_SPEC_UNKNOWN_NODE: { className: 'SpecUnknownNodeError', module: 'src/spec/errors.ts', doc: '`exit_when_nodes_finish` names a node that does not exist' },
  DORA_SPEC_MISSING_FILE: {
    className: 'SpecMissingFileError',
    module: 'src/spec/errors.ts',
    doc: "a node's executable or an operator's module does not exist",
  },

  // The node protocol (src/protocol/errors.ts).
  DORA_PROTOCOL_DECODE: {
    className: 'ProtocolError',
    module: 'src/protocol/errors.ts',
    doc: 'a ZeroMQ frame that is not a valid message',
    hint: 'The peer is not speaking the dora-ts node protocol, or runs an incompatible version.',
  },
  DORA_PROTOCOL_ENCODE: {
    className: 'ProtocolEncodeError',
    module: 'src/protocol/errors.ts',
    doc: 'a message that cannot be encoded (a value out of range, a frame over 1 MiB)',
  },

  // What the SDK raises in user code (node-sdk/errors.ts).
  DORA_NODE_CONNECT: { className: 'NodeConnectError', module: 'node-sdk/errors.ts', doc: 'a custom node could not register with its supervisor' },
  DORA_UNKNOWN_OUTPUT: { className: 'UnknownOutputError', module: 'node-sdk/errors.ts', doc: '`send` on an output the YAML does not declare' },
  DORA_INVALID_SEND: { className: 'InvalidSendError', module: 'node-sdk/errors.ts', doc: 'a payload that is not a `Uint8Array`' },
  DORA_MESSAGE_TOO_LARGE: {
    className: 'MessageTooLargeError',
    module: 'node-sdk/errors.ts',
    doc: "a payload bigger than the dataflow's `max_message_size` (default 64MiB); nothing was sent",
    hint: 'Raise max_message_size: in the dataflow YAML (e.g. max_message_size: 256MiB), or send smaller payloads.',
  },
  DORA_LINK_LOG_WRITE: {
    className: 'LinkLogWriteError',
    module: 'node-sdk/errors.ts',
    doc: 'a send on a reliable direct link (between two custom nodes) could not be appended to its link log in shared memory (full, or removed); nothing was sent',
    hint: 'Give /dev/shm more room (df -h /dev/shm; a container: --shm-size), or the receiving inputs a smaller queue_size (the log keeps that many of the newest messages for a receiver that falls behind), or let the receivers catch up; then send again. Or put `_unstable_direct_links: false` at the top of the dataflow to send through the supervisor instead.',
  },
  DORA_SUPERVISOR_GONE: {
    className: 'SupervisorGoneError',
    module: 'node-sdk/errors.ts',
    doc: "the supervisor that launched this node is gone: the node's events end with `stop`; later sends get `DORA_CLOSED` with this as the cause",
  },
  DORA_INVALID_OPERATOR: { className: 'InvalidOperatorError', module: 'node-sdk/errors.ts', doc: 'an operator module that exports no operator' },
  DORA_INVALID_STATE_KEY: {
    className: 'InvalidStateKeyError',
    module: 'node-sdk/errors.ts',
    doc: '`saveState`/`deleteState` called with a key that is not a non-empty string (thrown into the handler)',
  },
  DORA_INVALID_STATE_VALUE: {
    className: 'InvalidStateValueError',
    module: 'node-sdk/errors.ts',
    doc: '`saveState` called with a value that is not a `Uint8Array` (encode it first, e.g. `msgpack.encode(value)`; thrown into the handler)',
  },

  // Runtime plumbing (src/transport/, src/errors.ts).
  DORA_CLOSED: {
    className: 'ClosedError',
    module: 'src/transport/errors.ts',
    doc: 'a send (or a queued one) after its node or socket was closed or destroyed; nothing of it reached the peer',
  },
  DORA_RUN_DIR: { className: 'RunDirError', module: 'src/transport/run-dir.ts', doc: 'the private runtime directory could not be created' },
  DORA_INSECURE_PATH: {
    className: 'InsecurePathError',
    module: 'src/security/errors.ts',
    doc: 'a directory or file that must be private (runtime directory, state, KVS, keys) is owned by another user, open to others, or a symlink',
  },
  DORA_CURVE_KEYS: {
    className: 'CurveKeysError',
    module: 'src/security/errors.ts',
    doc: 'the CURVE keys of the TCP control socket are missing or malformed (`dora-ts keys`)',
  },
  DORA_INVALID_NAME: {
    className: 'InvalidNameError',
    module: 'src/security/errors.ts',
    doc: 'a dataflow name (or other name that names files) is not an identifier',
  },
  DORA_REAPER: {
    className: 'ReaperError',
    module: 'runtime/supervisor/reaper.ts',
    doc: "the run's reaper process (it stops every custom node if the supervisor dies) could not be started, or a node could not be spawned behind it",
  },
  DORA_FD_LIMIT: {
    className: 'FdLimitError',
    module: 'src/fd-limit.ts',
    doc: 'dora-ts ran out of file descriptors (`ulimit -n`, `LimitNOFILE=` of a systemd unit): a command could not load, or a run could not start its nodes',
  },
  DORA_INTERNAL: {
    className: 'InternalError',
    module: 'src/errors.ts',
    doc: 'a bug in dora-ts reported by the supervisor; the message carries its stack',
    hint: 'This is a bug in dora-ts; please report it.',
  },

  // The operator state store (src/store/state/errors.ts).
  DORA_STATE_OPEN: { className: 'StateOpenError', module: 'src/store/state/errors.ts', doc: 'the state store could not be opened (permissions, ...)' },
  DORA_STATE_IN_USE: {
    className: 'StateInUseError',
    module: 'src/store/state/errors.ts',
    doc: 'another live dora-ts process runs a dataflow on the same state directory (a run waits up to 3 s for a CLI read to finish); or, for `state ls/dump/snapshot`, the live owner does not answer for its store',
  },
  DORA_STATE_LAYOUT: {
    className: 'StateLayoutError',
    module: 'src/store/state/errors.ts',
    doc: 'the state store was written by an incompatible dora-ts layout or LMDB',
  },
  DORA_STATE_CORRUPT: {
    className: 'StateCorruptError',
    module: 'src/store/state/errors.ts',
    doc: "the state store is not a valid LMDB environment, a record does not decode, or a value's checksum does not match its bytes",
  },
  DORA_STATE_MAP_FULL: {
    className: 'StateMapFullError',
    module: 'src/store/state/errors.ts',
    doc: 'the state store reached its map size; the commit was not applied',
  },
  DORA_STATE_DISK_FULL: {
    className: 'StateDiskFullError',
    module: 'src/store/state/errors.ts',
    doc: 'the disk holding the state is full (ENOSPC, EDQUOT); the commit was not applied',
  },
  DORA_STATE_VALUE_TOO_LARGE: {
    className: 'StateValueTooLargeError',
    module: 'src/store/state/errors.ts',
    doc: "a state value, or one event's writes, too large to ever fit",
  },
  DORA_STATE_BAD_KEY: {
    className: 'StateBadKeyError',
    module: 'src/store/state/errors.ts',
    doc: 'a state or operator key that is empty, over 511 UTF-8 bytes or not well-formed Unicode',
  },
  DORA_STATE_BAD_VALUE: { className: 'StateBadValueError', module: 'src/store/state/errors.ts', doc: 'a state value that is not a `Uint8Array`' },
  DORA_STATE_BAD_META: {
    className: 'StateBadMetaError',
    module: 'src/store/state/errors.ts',
    doc: 'the event metadata of a commit is invalid (a negative event number, ...)',
  },
  DORA_STATE_IO: {
    className: 'StateIoError',
    module: 'src/store/state/errors.ts',
    doc: 'any other state read or commit failure (too many readers, an I/O error); nothing was applied',
  },
  DORA_STATE_SNAPSHOT: {
    className: 'StateSnapshotError',
    module: 'src/store/state/errors.ts',
    doc: 'a snapshot cannot be written (the target exists, or is not writable)',
  },
  DORA_STATE_CLOSED: { className: 'StateClosedError', module: 'src/store/state/errors.ts', doc: 'the state store used after `close()`' },

  // `dora-ts state` (runtime/state/: admin.ts, store-access.ts, snapshots.ts).
  DORA_STATE_NOT_FOUND: {
    className: 'StateNotFoundError',
    module: 'runtime/state/store-access.ts',
    doc: '`dora-ts state`: no state store of that dataflow under the state root (the message lists those there are)',
  },
  DORA_STATE_BAD_NAME: {
    className: 'StateNameError',
    module: 'runtime/state/admin.ts',
    doc: '`dora-ts state`: a dataflow name that cannot name a state store (a path, `..`, a dot name), or `--name` without a YAML',
  },
  DORA_STATE_UNKNOWN_OPERATOR: {
    className: 'StateUnknownOperatorError',
    module: 'runtime/state/admin.ts',
    doc: '`dora-ts state dump/clear`: the store has no state for that operator',
  },
  DORA_STATE_SNAPSHOT_NOT_FOUND: {
    className: 'SnapshotNotFoundError',
    module: 'runtime/state/snapshots.ts',
    doc: '`dora-ts state restore`: no snapshot of that id',
  },

  // The shared key-value store (src/store/kvs/errors.ts).
  DORA_KVS_OPEN: {
    className: 'KvsOpenError',
    module: 'src/store/kvs/errors.ts',
    doc: 'the KVS directory cannot be created or opened (permissions, a file in the way, no KVS configured)',
  },
  DORA_KVS_TOO_MANY_NAMESPACES: {
    className: 'KvsTooManyNamespacesError',
    module: 'src/store/kvs/errors.ts',
    doc: "a write would open a namespace past the KVS limit (499 namespaces open in one process: LMDB's table of open databases)",
  },
  DORA_KVS_CORRUPT: {
    className: 'KvsCorruptError',
    module: 'src/store/kvs/errors.ts',
    doc: "the KVS directory holds a damaged or non-LMDB data file, or a value's checksum does not match its bytes",
  },
  DORA_KVS_LAYOUT: {
    className: 'KvsLayoutError',
    module: 'src/store/kvs/errors.ts',
    doc: 'the KVS directory holds something else (operator state, another LMDB environment, a newer layout)',
  },
  DORA_KVS_BAD_KEY: {
    className: 'KvsBadKeyError',
    module: 'src/store/kvs/errors.ts',
    doc: 'a KVS key that is not a string, is empty, or is over 511 UTF-8 bytes (also a prefix over 511 bytes)',
  },
  DORA_KVS_BAD_VALUE: {
    className: 'KvsBadValueError',
    module: 'src/store/kvs/errors.ts',
    doc: 'a KVS value that is not a `Uint8Array`, or an `update` function that returned a Promise',
  },
  DORA_KVS_BAD_NAMESPACE: {
    className: 'KvsBadNamespaceError',
    module: 'src/store/kvs/errors.ts',
    doc: 'a namespace name that is empty, over 255 UTF-8 bytes or holds a NUL',
  },
  DORA_KVS_VALUE_TOO_LARGE: {
    className: 'KvsValueTooLargeError',
    module: 'src/store/kvs/errors.ts',
    doc: "a KVS value over 64 MiB, or over what the store's map size can ever hold",
  },
  DORA_KVS_MAP_FULL: {
    className: 'KvsMapFullError',
    module: 'src/store/kvs/errors.ts',
    doc: 'no room left in the KVS (its map size); the write was not applied',
  },
  DORA_KVS_DISK_FULL: {
    className: 'KvsDiskFullError',
    module: 'src/store/kvs/errors.ts',
    doc: 'no room left on the disk holding the KVS (ENOSPC, EDQUOT); the write was not applied',
  },
  DORA_KVS_IO: {
    className: 'KvsIoError',
    module: 'src/store/kvs/errors.ts',
    doc: 'any other KVS read or write failure (too many readers, an I/O error); nothing was applied',
  },
  DORA_KVS_STALLED: {
    className: 'KvsStalledError',
    module: 'src/store/kvs/errors.ts',
    doc: "a KVS call did not complete in time: another process holds the KVS write lock (named by pid when known) or the supervisor's KVS thread is stuck",
  },
  DORA_KVS_CLOSED: { className: 'KvsClosedError', module: 'src/store/kvs/errors.ts', doc: 'a KVS handle used after `close()`' },

  // LMDB environments shared by both stores (src/store/lmdb/).
  DORA_LMDB_OPEN_LOCK_TIMEOUT: {
    className: 'OpenLockTimeoutError',
    module: 'src/store/lmdb/open-lock.ts',
    doc: "another process held an LMDB environment's open lock for over 30 s (it is stuck opening or closing); usually seen as the cause of a `DORA_KVS_OPEN`",
    hint: 'Find the process holding the lock (ps -p PID) and stop it if it hangs; remove the lock file once it is gone.',
  },

  // The CLI (runtime/cli/, runtime/tools/).
  DORA_CLI_USAGE: { className: 'CliUsageError', module: 'runtime/cli/options.ts', doc: 'a bad command-line value' },
  DORA_CLI_FILE_EXISTS: {
    className: 'FileExistsError',
    module: 'runtime/tools/file-output.ts',
    doc: '`dora-ts new` would overwrite a file or a non-empty folder',
  },
  DORA_CLI_BUILD_FAILED: {
    className: 'BuildFailedError',
    module: 'runtime/cli/build.ts',
    doc: "a node's `build:` command failed (`dora-ts build`): it exited with an error, was killed, or could not be started",
  },
  DORA_CLI_WRITE: {
    className: 'FileWriteError',
    module: 'runtime/tools/file-output.ts',
    doc: "a file the CLI writes (`graph`'s page, `new`'s files) could not be written",
  },

  // The supervisor daemon and its control socket (runtime/daemon/errors.ts).
  DORA_LOG_DIR: {
    className: 'LogDirError',
    module: 'runtime/daemon/errors.ts',
    doc: 'the folder of the log files cannot be made: its file system is read-only, or this user cannot write there',
  },
  DORA_DAEMON_NOT_RUNNING: { className: 'DaemonNotRunningError', module: 'runtime/daemon/errors.ts', doc: 'no supervisor is running (`dora-ts up`)' },
  DORA_DAEMON_UNRESPONSIVE: {
    className: 'DaemonUnresponsiveError',
    module: 'runtime/daemon/errors.ts',
    doc: 'a supervisor process exists but does not answer',
  },
  DORA_CONTROL_CLOSED: {
    className: 'ControlClientClosedError',
    module: 'runtime/control/errors.ts',
    doc: "a control request (to the supervisor or a run's state service) was cancelled because its client was closed",
  },
  DORA_DAEMON_UNKNOWN_DATAFLOW: { className: 'UnknownDataflowError', module: 'runtime/daemon/errors.ts', doc: 'no dataflow has that name or id' },
  DORA_DAEMON_NAME_IN_USE: {
    className: 'DataflowNameInUseError',
    module: 'runtime/daemon/errors.ts',
    doc: 'a dataflow with that name already runs on the supervisor',
  },
  DORA_DAEMON_UNKNOWN_NODE: { className: 'UnknownNodeError', module: 'runtime/daemon/errors.ts', doc: 'the dataflow has no node or operator of that name' },
  DORA_DAEMON_NOT_RESTARTABLE: {
    className: 'NotRestartableError',
    module: 'runtime/daemon/errors.ts',
    doc: '`dora-ts restart` named a node that has ended for good, or its dataflow is stopping',
  },
  DORA_DAEMON_NOT_STOPPABLE: {
    className: 'NotStoppableError',
    module: 'runtime/daemon/errors.ts',
    doc: '`dora-ts stop NAME NODE` named a node that has ended, or its dataflow is stopping',
  },
  DORA_RECORDING_INVALID: {
    className: 'RecordingInvalidError',
    module: 'src/recording/errors.ts',
    doc: '`dora-ts replay` was given a file that is not a dora-ts recording, or one whose header is damaged',
  },
  DORA_RECORDING_PLAN: {
    className: 'RecordingPlanError',
    module: 'src/recording/errors.ts',
    doc: '`dora-ts record` or `replay` named a topic the dataflow does not have, or a node the recording cannot stand in for',
  },
  DORA_DAEMON_UNKNOWN_TOPIC: {
    className: 'UnknownTopicError',
    module: 'runtime/daemon/errors.ts',
    doc: '`dora-ts topic echo`, `hz`, `info` or `pub` named an output the dataflow does not have',
  },
  DORA_DAEMON_TOPIC_NOT_TAPPABLE: {
    className: 'TopicNotTappableError',
    module: 'runtime/daemon/errors.ts',
    doc: '`dora-ts topic echo` or `hz` named an output that goes straight to its receivers with nothing kept (best effort), where no tap can see it',
  },
  DORA_DAEMON_TOPIC_CLOSED: {
    className: 'TopicClosedError',
    module: 'runtime/daemon/errors.ts',
    doc: '`dora-ts topic pub` named an output that has closed (its sender ended or closed it), or its dataflow is stopping',
  },
  DORA_DAEMON_BAD_REQUEST: {
    className: 'BadControlRequestError',
    module: 'runtime/daemon/errors.ts',
    doc: 'the supervisor does not know a command (CLI and supervisor versions differ)',
  },
} as const satisfies Record<`DORA_${string}`, ErrorCodeInfo>

/** Every code dora-ts raises, e.g. `'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT'`. */
export type DoraErrorCode = keyof typeof ERROR_CODES

/** Every code whose name starts with `Prefix`, e.g. `CodesStartingWith<'DORA_KVS_'>`. */
export type CodesStartingWith<Prefix extends string> = Extract<DoraErrorCode, `${Prefix}${string}`>

/** Whether `code` is listed in {@link ERROR_CODES} (a code from a newer peer is not). */
export function isDoraErrorCode(code: string): code is DoraErrorCode {
  return Object.hasOwn(ERROR_CODES, code)
}

/** The codes in table order. */
export function errorCodes(): DoraErrorCode[] {
  return Object.keys(ERROR_CODES) as DoraErrorCode[]
}
