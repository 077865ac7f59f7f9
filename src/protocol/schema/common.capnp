# Types shared by both directions of the dora-ts node protocol.
#
# This schema is the wire contract between the dora-ts supervisor and custom nodes, whatever
# language they are written in. Every ZeroMQ message is multipart: frame 0 is one Cap'n Proto
# message in the standard unpacked serialization (segment table first), and messages that carry
# data (`output`, `input`) have the payload bytes as frame 1, so payloads never enter these
# structs.
#
# Versioning: this is protocol version 1 (`PROTOCOL_VERSION` in messages.ts, sent in
# `NodeToSupervisor.register.protocolVersion`). Changes must follow Cap'n Proto's evolution
# rules: add fields and union variants only with new, higher ordinals at the end; never
# renumber, retype or remove. Receivers treat an unknown union variant as "unknown" and ignore
# it. An incompatible change bumps PROTOCOL_VERSION.
#
# Conventions every implementation of this contract follows:
# - An empty Text or Data may be written as a null pointer; readers read null as "" / empty.
# - A receiver maps an enum value it does not know to the safest known one: StopCause to
#   `manual` (a stop is still a stop), LogLevel to `info`.
# - Frame 0 is at most 1 MiB (receivers reject larger frames); put bulk data in the payload.
#
# Field positions are fixed by the compiler (`capnp compile -ocapnp` prints them); dora-ts's
# codec keeps them in src/protocol/struct-layout.ts, checked against this schema by the tests.
# Regenerate the TypeScript next to this file with `npm run gen:capnp` after any edit.

@0xcf247a8e8b91e89f;

# Why a node stopped being fed: the `stop` message carries it. Unknown values read as `manual`.
enum StopCause {
  manual @0;           # Someone stopped the dataflow (`dora-ts stop`, Ctrl-C, an API call).
  allInputsClosed @1;  # Every input of the node was closed by its upstream nodes.
}

# Severity of a `log` message a node sends to the supervisor. Unknown values read as `info`.
enum LogLevel {
  error @0;
  warn @1;
  info @2;
  debug @3;
}

# One entry of a message's user metadata: dora's typed parameters. A receiver that does not
# know a newer `value` variant drops that entry and keeps the others.
struct KeyValue {
  key @0 :Text;  # Unique within one header (a repeated key makes the message invalid);
                 # entries keep the sender's insertion order.
  value :union {
    text @1 :Text;        # A string.
    float64 @2 :Float64;  # A JS number (any float64, including NaN and infinities).
    int64 @3 :Int64;      # A JS bigint in [-2^63, 2^63 - 1].
    bool @4 :Bool;        # A boolean.
    data @5 :Data;        # Raw bytes (a Uint8Array).
  }
}

# A payload that travels through shared memory instead of the socket (issue 15): `length` bytes
# at `offset` in the file `segment` of the run's shared-memory directory (the `shmDir` of the
# registration, a tmpfs folder only the run's user can read). A message that carries one has no
# payload frame. Large payloads only (see `shmThreshold`): one write and one read instead of
# four socket copies through the supervisor.
struct SharedPayload {
  segment @0 :Text;    # File name inside shmDir (no slash), `<nodeId>@<restartCount>@<n>`.
  offset @1 :UInt64;   # Where the payload starts in the file.
  length @2 :UInt64;   # Payload bytes.
}

# Header of every data message: what a node sent, from where, and when.
struct MessageHeader {
  dataflowId @0 :Text;      # UUID of the running dataflow.
  senderNode @1 :Text;      # Id of the node that produced the message.
  senderOperator @2 :Text;  # Id of the operator inside that node; empty for custom nodes.
  outputId @3 :Text;        # Id of the sender's output the message was sent on.
  sequence @4 :UInt64;      # Monotonic per (sender node, output), starting at 1.
  timestampNs @5 :UInt64;   # Wall-clock nanoseconds since the Unix epoch when it was sent.
  metadata @6 :List(KeyValue);  # User metadata, in insertion order.
  encoding @7 :Text;        # How the payload frame is encoded: raw, json, utf8, f32, ... (free text).
  messageId @8 :Text;       # Identity derived from the producing event only, so a receiver can
                            # drop a redelivered duplicate; empty when the sender sets none.
                            # Operators: `<event>.<index>`. Custom nodes (dora-ts SDK): the
                            # author's, else `<restartCount>.<sequence>`, unique per output
                            # across restarts of the node within a run.
  redelivered @9 :Bool;     # True when delivered again after a crash of its receiver or sender
                            # (for a custom node: the batch it died with, see batchEnd).
}
