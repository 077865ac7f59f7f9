# Messages a custom node sends to the dora-ts supervisor (protocol version 1).
#
# Frame 0 of every ZeroMQ message from a node is one `NodeToSupervisor`. An `output` is
# followed by frame 1, the payload bytes. See common.capnp for the versioning rules: new
# variants get new ordinals at the end, and a supervisor that does not know a variant ignores it.

@0xa76d012df0490776;

using Common = import "common.capnp";

struct NodeToSupervisor {
  union {
    register @0 :Register;          # First message of a connection: who the node is.
    output @1 :Output;              # The node sent data on one of its outputs; payload in frame 1.
    next @2 :Void;                  # The node is ready for more events; the supervisor answers
                                    # with what it has queued.
    closeOutputs @3 :CloseOutputs;  # The node will send nothing more on these outputs.
    log @4 :Log;                    # A log line for the supervisor's log.
  }

  struct Register {
    nodeId @0 :Text;            # The node id from the dataflow YAML (from DORA_NODE_CONFIG).
    protocolVersion @1 :UInt32; # PROTOCOL_VERSION of the node's SDK; rejected on mismatch.
    pid @2 :UInt32;             # Operating-system process id of the node.
    secret @3 :Text;            # DORA_TS_NODE_SECRET from the node's environment: proves the
                                # supervisor spawned it (a per-spawn secret); refused if wrong.
  }

  struct Output {
    header @0 :Common.MessageHeader;  # What was sent; the payload is frame 1.
    sendSeq @1 :UInt64;               # Numbers the outputs of one connection: 1 for the first
                                      # output after `register`, then +1 per output. The
                                      # supervisor confirms them with `outputsTaken`. 0: the node
                                      # wants no confirmation (a node written before this field).
    shm @2 :Common.SharedPayload;     # Set: the payload is in this shared-memory segment, which
                                      # the node wrote and no longer touches; there is no frame
                                      # 1. The supervisor deletes the segment once every
                                      # receiver is done with it.
  }

  struct CloseOutputs {
    outputs @0 :List(Text);  # Output ids to close.
  }

  struct Log {
    level @0 :Common.LogLevel;  # Severity.
    message @1 :Text;           # The log line, without a trailing newline.
  }
}
