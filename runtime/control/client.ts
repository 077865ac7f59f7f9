/**
 * The asking side of a control socket (see control-server.ts): a DEALER that sends one
 * `ControlRequest` at a time and waits for the reply with the same id. Used by the CLI to talk
 * to the supervisor daemon and to the run that owns a state store.
 */
import { Dealer } from 'zeromq'
import { deserializeError } from '../../src/errors.js'
import { decodeControlReply, encodeControlRequest } from '../../src/protocol/control/codec.js'
import { DaemonUnresponsiveError } from '../daemon/errors.js'

export class ControlClient {
  /** The pid of the process that answers, when known. */
  readonly pid: number | undefined
  readonly #socket: Dealer
  readonly #endpoint: string
  /** Who answers, for messages: "the supervisor (pid 42)". */
  readonly #who: string
  /** What to do when it does not answer. */
  readonly #hint: string
  #nextId = 1n

  protected constructor(endpoint: string, who: string, pid: number | undefined, unresponsiveHint = 'It may be busy or hung: check dora-ts logs, or restart it with dora-ts destroy and dora-ts up.') {
    this.#socket = new Dealer({ linger: 0 })
    this.#socket.connect(endpoint)
    this.#endpoint = endpoint
    this.#who = who
    this.#hint = unresponsiveHint
    this.pid = pid
  }

  /**
   * Connect to `endpoint`; `who` names the answering process in errors, `unresponsiveHint`
   * says what to do when it does not answer.
   */
  static open(endpoint: string, who: string, pid: number | undefined, unresponsiveHint: string): ControlClient {
    return new ControlClient(endpoint, who, pid, unresponsiveHint)
  }

  /** Send one command and wait for its reply (at most `timeoutMs`). */
  async request<T>(command: string, body: object = {}, timeoutMs = 10_000): Promise<T> {
    const id = this.#nextId++
    await this.#socket.send(encodeControlRequest({ id, command, body: JSON.stringify(body) }))
    const deadline = setTimeout(() => this.#socket.close(), timeoutMs)
    try {
      for (;;) {
        let frames: Buffer[]
        try {
          frames = await this.#socket.receive()
        } catch {
          throw new DaemonUnresponsiveError(`${this.#who} did not answer "${command}" within ${timeoutMs / 1000} s on ${this.#endpoint}`, {
            hint: this.#hint,
          })
        }
        const reply = decodeControlReply(frames[0]!)
        if (reply.id !== id) continue
        if (reply.type === 'ok') return JSON.parse(reply.body) as T
        if (reply.type === 'error') {
          throw deserializeError({ name: 'DoraError', code: reply.code, message: reply.message, hint: reply.hint === '' ? undefined : reply.hint })
        }
        throw new DaemonUnresponsiveError(`${this.#who} answered "${command}" with a reply this CLI does not understand`, {
          hint: 'The CLI and the supervisor may be different dora-ts versions: run dora-ts destroy, then dora-ts up.',
        })
      }
    } finally {
      clearTimeout(deadline)
    }
  }

  close(): void {
    if (!this.#socket.closed) this.#socket.close()
  }
}
