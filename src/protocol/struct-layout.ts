/**
 * Where each field of the node-protocol schemas lives inside its struct, as the Cap'n Proto
 * compiler lays it out (`capnp compile -ocapnp src/protocol/schema/*.capnp` prints these positions as
 * comments). The codec (`src/protocol/node/`) reads and writes through this table;
 * test/protocol/struct-layout.test.ts runs the compiler and checks every entry, so an edited
 * schema cannot silently disagree with the codec.
 *
 * Cap'n Proto never moves an existing field when a schema evolves, so entries only get added.
 * To add a field: add it to the schema (new ordinal, at the end), run `npm run gen:capnp`, copy
 * the position `capnp compile -ocapnp` prints into this table, then read/write it in the codec
 * module of its direction (`src/protocol/node/node-to-supervisor.ts`, `supervisor-to-node.ts` or
 * `node-to-node.ts`).
 */

/** A field in the pointer section: `ptr[index]`. `tag` is its union discriminant, if any. */
export interface PointerField {
  readonly ptr: number
  readonly tag?: number
}

/** A field in the data section: `bits[bits, bits + width)`. `tag` is its union discriminant. */
export interface DataField {
  readonly bits: number
  readonly width: number
  readonly tag?: number
}

export interface StructLayout {
  /** Size of the data section in bytes. */
  readonly bytes: number
  /** Number of pointers. */
  readonly ptrs: number
  /** Bit offset of the (single) union's 16-bit discriminant, if the struct has a union. */
  readonly tagBits?: number
  readonly fields: Readonly<Record<string, PointerField | DataField>>
}

/** A union member: its discriminant is known. */
type Tagged<F> = F & { readonly tag: number }

function p(ptr: number): PointerField
function p(ptr: number, tag: number): Tagged<PointerField>
function p(ptr: number, tag?: number): PointerField {
  return tag === undefined ? { ptr } : { ptr, tag }
}

function d(bits: number, width: number): DataField
function d(bits: number, width: number, tag: number): Tagged<DataField>
function d(bits: number, width: number, tag?: number): DataField {
  return tag === undefined ? { bits, width } : { bits, width, tag }
}

/**
 * Every struct of the node schemas, keyed by its scoped name (`Parent.Nested`). Fields of a
 * group (`KeyValue.value`) are listed in the struct that contains the group.
 */
export const LAYOUT = {
  // common.capnp
  KeyValue: {
    bytes: 16,
    ptrs: 2,
    tagBits: 0,
    fields: { key: p(0), text: p(1, 0), float64: d(64, 64, 1), int64: d(64, 64, 2), bool: d(64, 1, 3), data: p(1, 4) },
  },
  SharedPayload: { bytes: 16, ptrs: 1, fields: { segment: p(0), offset: d(0, 64), length: d(64, 64) } },
  MessageHeader: {
    bytes: 24,
    ptrs: 7,
    fields: {
      dataflowId: p(0),
      senderNode: p(1),
      senderOperator: p(2),
      outputId: p(3),
      sequence: d(0, 64),
      timestampNs: d(64, 64),
      metadata: p(4),
      encoding: p(5),
      messageId: p(6),
      redelivered: d(128, 1),
    },
  },

  // node-to-supervisor.capnp
  NodeToSupervisor: {
    bytes: 8,
    ptrs: 1,
    tagBits: 0,
    fields: { register: p(0, 0), output: p(0, 1), next: d(0, 0, 2), closeOutputs: p(0, 3), log: p(0, 4), credit: p(0, 5), directCounts: p(0, 6) },
  },
  'NodeToSupervisor.Register': { bytes: 16, ptrs: 2, fields: { nodeId: p(0), protocolVersion: d(0, 32), pid: d(32, 32), secret: p(1), directLinks: d(64, 1) } },
  'NodeToSupervisor.Output': { bytes: 16, ptrs: 2, fields: { header: p(0), sendSeq: d(0, 64), shm: p(1), consumedUpTo: d(64, 64) } },
  'NodeToSupervisor.Credit': {
    bytes: 24,
    ptrs: 0,
    fields: { consumedUpTo: d(0, 64), window: d(64, 32), inputBatches: d(96, 1), heldAtClose: d(128, 64), exact: d(97, 1) },
  },
  'NodeToSupervisor.DirectCounts': {
    bytes: 24,
    ptrs: 2,
    fields: { sent: d(0, 64), received: d(64, 64), dropped: d(128, 64), inputDrops: p(0), linkDrops: p(1) },
  },
  'NodeToSupervisor.InputDrops': { bytes: 8, ptrs: 2, fields: { inputId: p(0), dropped: d(0, 64), node: p(1) } },
  'NodeToSupervisor.CloseOutputs': { bytes: 0, ptrs: 1, fields: { outputs: p(0) } },
  'NodeToSupervisor.Log': { bytes: 8, ptrs: 1, fields: { level: d(0, 16), message: p(0) } },

  // supervisor-to-node.capnp
  SupervisorToNode: {
    bytes: 8,
    ptrs: 1,
    tagBits: 0,
    fields: {
      registered: p(0, 0),
      registerRejected: p(0, 1),
      input: p(0, 2),
      inputClosed: p(0, 3),
      stop: p(0, 4),
      error: p(0, 5),
      nodeRestarted: p(0, 6),
      nodeFailed: p(0, 7),
      inputRecovered: p(0, 8),
      outputsPaused: p(0, 9),
      outputsClosed: p(0, 10),
      outputsTaken: p(0, 11),
      batchEnd: d(0, 0, 12),
      inputs: p(0, 13),
    },
  },
  'SupervisorToNode.Registration': {
    bytes: 32,
    ptrs: 12,
    fields: {
      dataflowId: p(0),
      dataflowName: p(1),
      nodeId: p(2),
      restartCount: d(0, 32),
      inputs: p(3),
      outputs: p(4),
      kvsPath: p(5),
      kvsMapSize: d(64, 64),
      kvsNamespace: p(6),
      atLeastOnce: d(32, 1),
      maxMessageSize: d(128, 64),
      shmDir: p(7),
      shmThreshold: d(192, 64),
      pushInputs: d(33, 1),
      directEndpoint: p(8),
      directInputs: p(9),
      directRoutes: p(10),
      directOnly: p(11),
      restartsWhenDone: d(34, 1),
    },
  },
  'SupervisorToNode.DirectInput': {
    bytes: 8,
    ptrs: 5,
    fields: { inputId: p(0), queueSize: d(0, 32), senderNode: p(1), outputId: p(2), logDir: p(3), cursorName: p(4) },
  },
  'SupervisorToNode.DirectRoute': {
    bytes: 8,
    ptrs: 6,
    fields: { outputId: p(0), receiverNode: p(1), endpoint: p(2), inputId: p(3), queueSize: d(0, 32), logDir: p(4), cursorName: p(5) },
  },
  'SupervisorToNode.RegisterRejected': { bytes: 0, ptrs: 1, fields: { reason: p(0) } },
  'SupervisorToNode.Input': { bytes: 0, ptrs: 3, fields: { inputId: p(0), header: p(1), shm: p(2) } },
  'SupervisorToNode.InputBatch': { bytes: 0, ptrs: 1, fields: { inputs: p(0) } },
  'SupervisorToNode.InputClosed': { bytes: 8, ptrs: 1, fields: { inputId: p(0), linkClosed: d(0, 1) } },
  'SupervisorToNode.InputRecovered': { bytes: 0, ptrs: 1, fields: { inputId: p(0) } },
  'SupervisorToNode.OutputsPaused': { bytes: 0, ptrs: 1, fields: { outputs: p(0) } },
  'SupervisorToNode.OutputsClosed': { bytes: 0, ptrs: 1, fields: { outputs: p(0) } },
  'SupervisorToNode.OutputsTaken': { bytes: 8, ptrs: 0, fields: { upTo: d(0, 64) } },
  'SupervisorToNode.Stop': { bytes: 8, ptrs: 2, fields: { cause: d(0, 16), waitingInputs: p(0), droppedInputs: p(1) } },
  'SupervisorToNode.Error': { bytes: 0, ptrs: 1, fields: { message: p(0) } },
  'SupervisorToNode.NodeRestarted': { bytes: 0, ptrs: 1, fields: { nodeId: p(0) } },
  'SupervisorToNode.NodeFailed': { bytes: 0, ptrs: 3, fields: { nodeId: p(0), error: p(1), affectedInputs: p(2) } },

  // node-to-node.capnp
  NodeToNode: { bytes: 8, ptrs: 1, tagBits: 0, fields: { input: p(0, 0), inputClosed: p(0, 1), linkClosed: p(0, 2) } },
  'NodeToNode.DirectMessage': {
    bytes: 32,
    ptrs: 5,
    fields: {
      inputId: p(0),
      sequence: d(0, 64),
      timestampNs: d(64, 64),
      messageId: p(1),
      encoding: p(2),
      metadata: p(3),
      shm: p(4),
      linkSeq: d(128, 64),
      linkEnd: d(192, 32),
      linkNewFile: d(224, 1),
      senderLife: d(240, 16),
    },
  },
} as const satisfies Record<string, StructLayout>
