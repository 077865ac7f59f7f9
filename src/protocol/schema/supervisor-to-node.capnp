# Messages the dora-ts supervisor sends to a custom node (protocol version 1).
#
# Frame 0 of every ZeroMQ message to a node is one `SupervisorToNode`. An `input` is followed
# by frame 1, the payload bytes. See common.capnp for the versioning rules: new variants get new
# ordinals at the end, and a node that does not know a variant ignores it.
#
# Best-effort links (`reliability: best_effort` inputs, between two custom nodes) do not
# carry these messages: their senders send NodeToNode (node-to-node.capnp) to the socket the
# receiver binds at `Registration.directEndpoint`. The supervisor still sends `inputClosed`
# for such an input when its sender ends.

@0xab1f49d029a6c141;

using Common = import "common.capnp";

struct SupervisorToNode {
  union {
    registered @0 :Registration;            # Answer to `register`: the node is accepted.
    registerRejected @1 :RegisterRejected;  # Answer to `register`: the node is refused.
    input @2 :Input;                        # Data arrived on one of the node's inputs;
                                            # payload in frame 1.
    inputClosed @3 :InputClosed;            # An input will receive nothing more.
    stop @4 :Stop;                          # The node must finish and exit.
    error @5 :Error;                        # The supervisor could not handle the node's last
                                            # message (the connection stays open).
    nodeRestarted @6 :NodeRestarted;        # An upstream node was restarted after a crash.
    nodeFailed @7 :NodeFailed;              # An upstream node failed for good.
    inputRecovered @8 :InputRecovered;      # An input closed by its input_timeout receives
                                            # messages again (sent just before the first one).
    outputsPaused @9 :OutputsPaused;        # Backpressure: which of the node's outputs must
                                            # wait before sending (the whole set; empty: none).
    outputsClosed @10 :OutputsClosed;       # Answer to `closeOutputs`: everything the node sent
                                            # before it has been received and routed.
    outputsTaken @11 :OutputsTaken;         # Confirms the node's outputs up to a `sendSeq`: see
                                            # OutputsTaken.
    batchEnd @12 :Void;                     # Pull mode: ends the batch of events answering one `next`.
                                            # The events of a batch count as consumed when the
                                            # node sends its next `next`: a node sends it only
                                            # after `batchEnd` and after handling every event
                                            # of the batch. If the node dies first, the
                                            # supervisor delivers them again to the restarted
                                            # node, inputs with `redelivered` set.
    inputs @13 :InputBatch;                 # Push mode, to a node whose credit asked for it:
                                            # several inputs in one message; see InputBatch.
  }

  # What the supervisor tells a node about itself when it registers.
  struct Registration {
    dataflowId @0 :Text;      # UUID of the running dataflow.
    dataflowName @1 :Text;    # Name of the dataflow (from the YAML file or --name).
    nodeId @2 :Text;          # The node's id, as accepted.
    restartCount @3 :UInt32;  # Restarts of this node in this run; 0 on first start.
    inputs @4 :List(Text);    # Input ids of the node, as declared in the YAML.
    outputs @5 :List(Text);   # Output ids of the node, as declared in the YAML.
    kvsPath @6 :Text;         # Directory of the machine's shared KVS (LMDB environment).
    kvsMapSize @7 :UInt64;    # Size limit of the KVS in bytes, as the supervisor chose it.
    kvsNamespace @8 :Text;    # The node's default KVS namespace (the dataflow's pool).
    atLeastOnce @9 :Bool;     # True: this supervisor answers outputs that carry a `sendSeq` with
                              # `outputsTaken`, and ends every batch with `batchEnd`. False (a
                              # supervisor older than the field): neither comes; a node must not
                              # wait for them.
    maxMessageSize @10 :UInt64;  # Largest payload the node may send (the YAML's
                                 # `max_message_size`); 0 from an older supervisor: unknown.
    shmDir @11 :Text;            # The run's shared-memory directory (see SharedPayload); empty:
                                 # payloads always travel on the socket.
    shmThreshold @12 :UInt64;    # Payloads of at least this many bytes go through shmDir; 0: never.
    pushInputs @13 :Bool;        # True: this supervisor pushes events to a node that sends a
                                 # `credit` (NodeToSupervisor.Credit), without `next` or
                                 # `batchEnd`. False (an older supervisor): pull with `next`.
    directEndpoint @14 :Text;    # Best effort: the endpoint (ipc://, in the run's private
                                 # directory) this node binds a PULL socket on for its
                                 # `directInputs`, before anything is sent to it; empty: none.
    directInputs @15 :List(DirectInput);  # This node's best-effort inputs.
    directRoutes @16 :List(DirectRoute);  # Best-effort receivers of this node's outputs: the
                                          # node sends them each message itself.
    directOnly @17 :List(Text);  # Outputs whose every receiver is best effort: the node sends
                                 # their messages to no one else (not to the supervisor).
    restartsWhenDone @18 :Bool;  # True: the supervisor starts this node again when it ends
                                 # cleanly (`restart_policy: always`, restarts left), so its
                                 # outputs stay open across the restart: it puts no close on
                                 # its links (no close record, no marker), and its receivers'
                                 # inputs close only when it ends for good.
  }

  # A best-effort input: messages come on `directEndpoint`, not from the supervisor.
  struct DirectInput {
    inputId @0 :Text;     # The input id.
    queueSize @1 :UInt32; # Most messages the node keeps queued; beyond, it drops the oldest.
    senderNode @2 :Text;  # The node that sends to it (its messages do not say).
    outputId @3 :Text;    # That node's output.
    logDir @4 :Text;      # Set: a reliable direct link (`_unstable_direct_links`): the folder
                          # of the sender's link log (src/transport/link-log.ts); the node reads
                          # what it missed there and keeps its cursor `cursorName` in it.
                          # Empty: best effort.
    cursorName @5 :Text;  # This input's cursor file in `logDir` is `cursor.<cursorName>`.
  }

  # One best-effort receiver of one output.
  struct DirectRoute {
    outputId @0 :Text;      # The sender's output.
    receiverNode @1 :Text;  # The receiving node's id.
    endpoint @2 :Text;      # Its `directEndpoint`, to connect to.
    inputId @3 :Text;       # The receiver's input id the message is for.
    queueSize @4 :UInt32;   # The receiver's queue_size for it (the sender's send queue is as
                            # small: a full pipe drops the message instead of blocking).
    logDir @5 :Text;        # Set: a reliable direct link: append every message of `outputId`
                            # to the link log in this folder before sending it (one log per
                            # output, shared by its receivers). Empty: best effort.
    cursorName @6 :Text;    # The receiver's cursor in `logDir` (`cursor.<cursorName>`): the
                            # log is collected only behind it.
  }

  struct RegisterRejected {
    reason @0 :Text;  # Why, for the node to print before it exits.
  }

  struct Input {
    inputId @0 :Text;                 # The receiving node's input id.
    header @1 :Common.MessageHeader;  # The sender's header, with `redelivered` set when replayed.
    shm @2 :Common.SharedPayload;     # Set: the payload is in this shared-memory segment, and
                                      # there is no frame 1. The node reads it before it asks
                                      # for its next batch (the segment may go after that).
  }

  # Several inputs in one ZeroMQ message, sent when more than one waits for a node that
  # pushes (NodeToSupervisor.Credit.inputBatches). Each counts as one event, in list order,
  # exactly as if it had come as its own `input` message (numbering, consumption, redelivery).
  # Frame 0 is this message; then one frame per input that has no `shm`, in list order, holding
  # its payload (an empty frame for an empty payload). An input with `shm` has no frame.
  struct InputBatch {
    inputs @0 :List(Input);
  }

  struct InputClosed {
    inputId @0 :Text;     # The input that was closed.
    linkClosed @1 :Bool;  # A best-effort input whose sender closed the output itself (its
                          # closeOutputs): the sender said so on the link too, after its last
                          # message there (NodeToNode.inputClosed). The receiver ends the input
                          # when that arrives (or after a bounded wait), not now: messages still
                          # on the link would otherwise be dropped as late. False: the sender
                          # ended without closing (killed), nothing more will come.
  }

  struct InputRecovered {
    inputId @0 :Text;  # The input that recovered.
  }

  struct OutputsPaused {
    outputs @0 :List(Text);  # Output ids paused now; every other output may send.
  }

  struct OutputsClosed {
    outputs @0 :List(Text);  # The outputs the request named.
  }

  # Cumulative confirmation of a node's outputs, the node's proof that they are safe: every
  # `output` of this connection with 0 < sendSeq <= upTo has been taken by the supervisor, that
  # is routed to the queue of every receiver it feeds (or dropped because the output was closed
  # or undeclared, as a log line says), so it survives the death of the node. One confirmation
  # covers every output received since the previous one: a node that sends faster than the
  # round trip gets one `outputsTaken` per burst, not one per message. Sent on the same
  # connection before the `outputsClosed` answering a later `closeOutputs`.
  struct OutputsTaken {
    upTo @0 :UInt64;  # The highest sendSeq taken; never decreases on a connection.
  }

  struct Stop {
    cause @0 :Common.StopCause;     # Why the node is stopped.
    waitingInputs @1 :List(Text);   # Cause `manual`, to a pushed node: the inputs whose events
                                    # it was pushed and its program has not taken may wait for
                                    # the node's next run (the supervisor keeps them, in its
                                    # outbox). The node hands its program the Stop before them
                                    # and leaves them unconsumed (its credits then tell exactly
                                    # what it consumed: Credit.exact). Empty (a supervisor
                                    # older than the field): every pushed event comes first.
    droppedInputs @2 :List(Text);   # The same for inputs whose events not taken are dropped
                                    # (timer ticks: time goes on in the next run): consumed
                                    # unseen.
  }

  struct Error {
    message @0 :Text;  # Human-readable description.
  }

  struct NodeRestarted {
    nodeId @0 :Text;  # The upstream node that was restarted.
  }

  struct NodeFailed {
    nodeId @0 :Text;             # The upstream node that failed.
    error @1 :Text;              # Its last error.
    affectedInputs @2 :List(Text);  # This node's inputs fed by it, now closed.
  }
}
