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
    next @2 :Void;                  # Pull mode: the node is ready for more events; the
                                    # supervisor answers with what it has queued.
    closeOutputs @3 :CloseOutputs;  # The node will send nothing more on these outputs.
    log @4 :Log;                    # A log line for the supervisor's log.
    credit @5 :Credit;              # Push mode (see Credit): events consumed, and how many more
                                    # the supervisor may send ahead.
    directCounts @6 :DirectCounts;  # Best effort: what the node's direct links carried, now
                                    # and then (not per message) and before it closes.
  }

  # Counts of a node's direct messages (best-effort links and reliable direct links) since it
  # registered on this connection; cumulative, so a lost or late report only delays the
  # figures `dora-ts list` shows.
  struct DirectCounts {
    sent @0 :UInt64;      # Messages sent on outputs whose every receiver is direct.
    received @1 :UInt64;  # Messages that arrived on direct inputs.
    dropped @2 :UInt64;   # Messages dropped: a full pipe to a receiver, a full queue, or after
                          # the input closed.
    inputDrops @3 :List(InputDrops);  # Of `dropped`, those dropped for each of this node's
                                      # inputs (a full queue under drop_oldest), by input, so a
                                      # run's report can name the input. Cumulative; absent in
                                      # a node older than the field.
    linkDrops @4 :List(InputDrops);   # Of `dropped`, those a full pipe to a best-effort
                                      # receiver dropped on their way, by the receiver's input
                                      # (`node` set), so a run's report counts them as that
                                      # input's. Cumulative; absent in a node older than it.
  }

  struct InputDrops {
    inputId @0 :Text;    # The node's input, as declared in the YAML.
    dropped @1 :UInt64;  # Messages of it dropped since the node registered on this connection.
    node @2 :Text;       # In linkDrops: the receiving node whose input it is (else empty).
  }

  struct Register {
    nodeId @0 :Text;            # The node id from the dataflow YAML (from DORA_NODE_CONFIG).
    protocolVersion @1 :UInt32; # PROTOCOL_VERSION of the node's SDK; rejected on mismatch.
    pid @2 :UInt32;             # Operating-system process id of the node.
    secret @3 :Text;            # DORA_TS_NODE_SECRET from the node's environment: proves the
                                # supervisor spawned it (a per-spawn secret); refused if wrong.
    directLinks @4 :Bool;       # The node keeps reliable direct links itself (link logs and
                                # their cursors in shared memory), as the dora-ts SDK does.
                                # False (a node speaking the protocol itself, or an older SDK):
                                # refused if the dataflow wires such a link to it.
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
    consumedUpTo @3 :UInt64;          # Push mode: the same as Credit.consumedUpTo, carried on
                                      # an output so a node that answers each input pays no
                                      # extra message; 0: nothing new consumed.
  }

  # Push mode, offered by the supervisor in Registration.pushInputs. The supervisor sends a node
  # its events as they arrive, without a `next`, numbering them per connection from 1 (every
  # input, inputClosed, inputRecovered, stop, error, nodeRestarted and nodeFailed counts; no
  # other message does), as long as fewer than `window` of them are unconsumed. The first
  # credit of a connection switches it to push mode (a node that never sends one keeps pulling
  # with `next`). An event counts as consumed when the node's program has taken it and asked
  # for more (or held it as the node closed, and the process then exited with code 0:
  # heldAtClose): if the node dies first, the supervisor delivers every unconsumed event again
  # to the restarted node, inputs with `redelivered` set and their original messageId.
  struct Credit {
    consumedUpTo @0 :UInt64;  # Every event numbered <= this is consumed (cumulative; 0: none).
    window @1 :UInt32;        # Most events the supervisor may have sent and not seen consumed.
    inputBatches @2 :Bool;    # True: the node reads `inputs` (SupervisorToNode.InputBatch), so
                              # several queued inputs may come in one message. False (a node
                              # older than the field): one `input` message per input.
    heldAtClose @3 :UInt64;   # In the last credit, as the node closes: the event its
                              # program was handed last and never came back from (its loop
                              # broke out while handling it, or it closed from inside the
                              # loop). Consumed if the process then exits with code 0, as what
                              # it came back from is; delivered again (marked) if it dies or
                              # exits with another code, since the program may have failed on
                              # it. 0: none held.
    exact @4 :Bool;           # From this credit on, the node's credits say exactly what its
                              # program consumed: a clean exit consumes nothing more (but
                              # heldAtClose), even after its Stop was pushed (its program may
                              # have broken out of its loop before the Stop, or the node set
                              # aside events at the Stop: Stop.waitingInputs). Set in the last
                              # credit, sent as the node closes, and in the one it sends as it
                              # sets events aside. False (a node that exits without either,
                              # or older than the field): a clean exit after its Stop was
                              # pushed consumes everything sent before that Stop.
  }

  struct CloseOutputs {
    outputs @0 :List(Text);  # Output ids to close.
  }

  struct Log {
    level @0 :Common.LogLevel;  # Severity.
    message @1 :Text;           # The log line, without a trailing newline.
  }
}
