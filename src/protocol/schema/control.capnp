# The control plane between the dora-ts CLI and a running supervisor daemon (`dora-ts up`).
#
# The CLI connects a DEALER socket to the daemon's ROUTER on `ipc://<runtime dir>/control.sock`
# (a 0700 directory only the user can reach). Each request carries an id; the daemon answers
# with one reply (`ok` or `error`) carrying the same id. Command arguments and results are JSON
# text in `body`/`ok`: the set of commands grows faster than a schema should, while the envelope
# (ids, errors with stable codes) is fixed here. Same evolution rules as common.capnp: new
# fields and variants only with new, higher ordinals.
#
# The same envelope serves `dora-ts state` reads: a run that owns a state store answers
# `state.stats`, `state.dump` and `state.snapshot` on `state.sock` in its run directory, whose
# endpoint it writes to `<state dir>/owner.endpoint`.

@0xedfe44e66e72a418;

struct ControlRequest {
  id @0 :UInt64;        # Chosen by the CLI; echoed in every reply to this request.
  command @1 :Text;     # `ping`, `start`, `stop`, `list`, `kill`, `destroy`.
  body @2 :Text;        # The command's arguments as a JSON object.
}

struct ControlReply {
  id @0 :UInt64;        # The request this answers.
  union {
    ok @1 :Text;        # The command's result as JSON.
    error @2 :Error;    # The command failed.
  }

  struct Error {
    code @0 :Text;      # Stable DoraError code, e.g. DORA_DAEMON_UNKNOWN_DATAFLOW.
    message @1 :Text;   # One paragraph for the user.
    hint @2 :Text;      # What to do about it (may be empty).
  }
}
