# Messages a custom node sends directly to another custom node on a best-effort link
# (`reliability: best_effort`, protocol version 1): the receiver binds a PULL socket at its
# `Registration.directEndpoint`, each sender connects a PUSH socket to it.
#
# Frame 0 of every ZeroMQ message on a link is one `NodeToNode`; an `input` without `shm` is
# followed by frame 1, the payload bytes. Nothing here is stored, numbered or redelivered.
#
# Why not SupervisorToNode.Input: a link message is on the path of every sensor frame, so it
# is kept under 128 bytes for short ids (zeromq.js copies frames that small, while a larger one
# is sent zero-copy and released through the sender's main thread, a wake-up per message that
# measured ~35 us per hop on a loaded 2-core machine). What the receiver already knows is left
# out: the dataflow, and the sending node and output of each input (Registration.directInputs).
# See common.capnp for the versioning rules.

@0xdbd0e5cbdc7b60e7;

using Common = import "common.capnp";

struct NodeToNode {
  union {
    input @0 :DirectMessage;  # A message for one of the receiver's best-effort inputs.
    inputClosed @1 :Text;     # The sender closed the output feeding this input (its id):
                              # nothing more comes on it from this sender.
    linkClosed @2 :Text;      # In a link log only: the sender closed the output in the run
                              # with this dataflow id (a receiver of a later run skips it).
  }

  # One message: MessageHeader's per-message fields, and where the payload is.
  struct DirectMessage {
    inputId @0 :Text;                 # The receiver's input id.
    sequence @1 :UInt64;              # As MessageHeader.sequence.
    timestampNs @2 :UInt64;           # As MessageHeader.timestampNs.
    messageId @3 :Text;               # As MessageHeader.messageId.
    encoding @4 :Text;                # As MessageHeader.encoding; empty: `raw`.
    metadata @5 :List(Common.KeyValue);  # As MessageHeader.metadata.
    shm @6 :Common.SharedPayload;     # Set: the payload is in this segment of the run's
                                      # shared-memory directory, a name of the file that is
                                      # the receiver's alone (it deletes it once read); no frame 1.
    linkSeq @7 :UInt64;               # A reliable direct link: the message's entry in the
                                      # sender's link log (0: best effort, not logged).
    linkEnd @8 :UInt32;               # The offset just past that entry in its log file. A
                                      # message with linkSeq but no frame 1 and no shm: the
                                      # payload is read from the entry itself (large payloads).
    linkNewFile @9 :Bool;             # The entry starts a new log file (named after linkSeq);
                                      # else it is in the file of the entry before it.
    senderLife @10 :UInt16;           # The sender's restart count in the run (modulo 65536):
                                      # which process of the sending node sent it. A
                                      # best-effort receiver's acknowledgements name it, so a
                                      # restarted sender never reads its older life's as its own.
  }
}
