/**
 * The asking side of a control socket (see server.ts): a DEALER that sends `ControlRequest`s
 * and matches each reply to its request by id. Used by the CLI to talk to the supervisor daemon
 * and to the run that owns a state store.
 *
 * One receive loop reads every reply and settles the request waiting for its id, so a request
 * that times out or is aborted only stops waiting: the socket stays open and the next request
 * works (a late reply to the abandoned one is recognised by its id and ignored). Only
 * {@link ControlClient.close} closes the socket.
 */
import { Dealer } from 'zeromq'
import { DoraError, deserializeError } from '../../src/errors.js'
import { decodeControlReply, encodeControlRequest } from '../../src/protocol/control/codec.js'
import { SendQueue } from '../../src/transport/send-queue.js'
import type { CurveClientOptions } from '../../src/security/curve-keys.js'
import { DaemonUnresponsiveError } from '../daemon/errors.js'
import { ControlClientClosedError } from './errors.js'

/** How long a request waits for its reply by default. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000

export interface RequestOptions {
  /** Stop waiting when this aborts: the request rejects with the signal's reason (an `AbortError` by default). */
  signal?: AbortSignal | undefined
  /** Stop waiting after this long, rejecting with `DORA_DAEMON_UNRESPONSIVE` (default {@link DEFAULT_REQUEST_TIMEOUT_MS}). */
  timeoutMs?: number | undefined
}

interface Pending {
  command: string
  resolve(body: string): void
  reject(err: unknown): void
}

export class ControlClient {
  /** The pid of the process that answers, when known. */
  readonly pid: number | undefined
  readonly #socket: Dealer
  readonly #sender: SendQueue
  readonly #endpoint: string
  /** Who answers, for messages: "the supervisor (pid 42)". */
  readonly #who: string
  /** What to do when it does not answer. */
  readonly #hint: string
  readonly #pending = new Map<bigint, Pending>()
  #nextId = 1n
  #receiving = false
  #closed = false

  protected constructor(
    endpoint: string,
    who: string,
    pid: number | undefined,
    unresponsiveHint = 'It may be busy or hung: check dora-ts logs, or restart it with dora-ts destroy and dora-ts up.',
    curve?: CurveClientOptions,
  ) {
    // Over TCP the client authenticates with CURVE (a refused key looks like no answer: ZAP
    // closes the handshake without a reply, so the hint says to check the keys).
    this.#socket = new Dealer({ linger: 0, ...curve })
    this.#socket.connect(endpoint)
    // Requests may overlap (one timed out, the next sent): zeromq.js takes one send at a time.
    this.#sender = new SendQueue(this.#socket, () => {})
    this.#endpoint = endpoint
    this.#who = who
    this.#hint = unresponsiveHint
    this.pid = pid
  }

  /**
   * Connect to `endpoint`; `who` names the answering process in errors, `unresponsiveHint`
   * says what to do when it does not answer; `curve` authenticates over TCP.
   */
  static open(endpoint: string, who: string, pid: number | undefined, unresponsiveHint: string, curve?: CurveClientOptions): ControlClient {
    return new ControlClient(endpoint, who, pid, unresponsiveHint, curve)
  }

  /**
   * Send one command and wait for its reply. Rejects with `DORA_DAEMON_UNRESPONSIVE` after
   * `timeoutMs`, with the signal's reason when `signal` aborts, and with
   * {@link ControlClientClosedError} when the client is (or gets) closed; in the first two cases
   * the client stays usable.
   *
   * @example
   * const { pid } = await client.request<{ pid: number }>('ping', {}, { timeoutMs: 2000, signal })
   */
  request<T>(command: string, body: object = {}, options: RequestOptions = {}): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError(command))
    const { signal, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS } = options
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      const settle = (): void => {
        this.#pending.delete(id)
        clearTimeout(deadline)
        signal?.removeEventListener('abort', onAbort)
      }
      const onAbort = (): void => {
        settle()
        reject(signal!.reason)
      }
      const deadline = setTimeout(() => {
        settle()
        reject(new DaemonUnresponsiveError(`${this.#who} did not answer "${command}" within ${timeoutMs / 1000} s on ${this.#endpoint}`, { hint: this.#hint }))
      }, timeoutMs)
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#pending.set(id, {
        command,
        resolve: (text) => {
          settle()
          try {
            resolve(JSON.parse(text) as T)
          } catch (err) {
            reject(err)
          }
        },
        reject: (err) => {
          settle()
          reject(err)
        },
      })
      this.#receive()
      this.#sender
        .send([encodeControlRequest({ id, command, body: JSON.stringify(body) })])
        .catch((err: unknown) => this.#pending.get(id)?.reject(this.#sendFailed(command, err)))
    })
  }

  /** Close the socket; requests still waiting reject with {@link ControlClientClosedError}. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const pending of [...this.#pending.values()]) pending.reject(this.#closedError(pending.command))
    this.#sender.close()
    this.#socket.close()
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /**
   * A send ZeroMQ refused: the connection was dropped under it (a refused CURVE handshake drops
   * it, and a send that processes the drop fails with EAGAIN). To the user that is the same as
   * no answer, with the same hint (check the keys, or the supervisor).
   */
  #sendFailed(command: string, err: unknown): unknown {
    if (err instanceof DoraError) return err
    const reason = err instanceof Error ? err.message : String(err)
    return new DaemonUnresponsiveError(`the request "${command}" to ${this.#who} on ${this.#endpoint} could not be sent (${reason})`, { hint: this.#hint })
  }

  #closedError(command: string): ControlClientClosedError {
    return new ControlClientClosedError(`the request "${command}" to ${this.#who} was cancelled: the client was closed`)
  }

  /** The one reader of the socket, started with the first request; ends when the socket closes. */
  #receive(): void {
    if (this.#receiving) return
    this.#receiving = true
    void (async () => {
      try {
        for await (const [frame] of this.#socket) {
          if (frame === undefined) continue
          let reply
          try {
            reply = decodeControlReply(frame)
          } catch {
            continue
          }
          const pending = this.#pending.get(reply.id)
          // No one waits for it: the reply to a request that timed out or was aborted.
          if (pending === undefined) continue
          if (reply.type === 'ok') pending.resolve(reply.body)
          else if (reply.type === 'error') {
            // Rebuilt as the class its code names, so callers can use instanceof as well as code.
            pending.reject(deserializeError({ name: 'DoraError', code: reply.code, message: reply.message, hint: reply.hint === '' ? undefined : reply.hint }))
          } else {
            pending.reject(
              new DaemonUnresponsiveError(`${this.#who} answered "${pending.command}" with a reply this CLI does not understand`, {
                hint: 'The CLI and the supervisor may be different dora-ts versions: run dora-ts destroy, then dora-ts up.',
              }),
            )
          }
        }
      } catch {
        // The socket was closed: close() already rejected whoever was waiting.
      }
    })()
  }
}
