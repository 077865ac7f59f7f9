/**
 * The answering side of a control socket: a ZeroMQ ROUTER that takes `ControlRequest`s
 * (src/protocol/schema/control.capnp), hands each to `dispatch`, and replies `ok` with the JSON of its
 * result or `error` with the DoraError's code, message and hint. Requests are answered
 * concurrently and each reply carries its request's id, so a slow command never holds up a
 * quick one. Used by the supervisor daemon (`dora-ts up`) and by every run's state service.
 */
import { Router } from 'zeromq'
import { DoraError, serializeError } from '../../src/errors.js'
import { decodeControlRequest, encodeControlReply, type ControlReply } from '../../src/protocol/control/codec.js'
import { SendQueue } from '../../src/transport/send-queue.js'

/** Runs one command; its result goes back as JSON. Throw a DoraError to refuse. */
export type ControlDispatch = (command: string, args: Record<string, unknown>) => Promise<unknown>

export interface ControlServerOptions {
  /** Endpoints to bind, e.g. `ipc:///run/user/1000/dora-ts-1000/control.sock`. */
  endpoints: readonly string[]
  dispatch: ControlDispatch
  /** Called once the reply to `command` has been handed to ZeroMQ (the daemon shuts down after `destroy`). */
  afterReply?: (command: string) => void
}

export class ControlServer {
  readonly #router: Router
  readonly #sender: SendQueue
  readonly #dispatch: ControlDispatch
  readonly #afterReply: ((command: string) => void) | undefined

  private constructor(router: Router, options: ControlServerOptions) {
    this.#router = router
    this.#dispatch = options.dispatch
    this.#afterReply = options.afterReply
    // A reply that cannot be sent (the asker left) is nobody's loss.
    this.#sender = new SendQueue(router, () => {})
  }

  /** Bind every endpoint and start answering; nothing stays bound if one bind fails. */
  static async bind(options: ControlServerOptions): Promise<ControlServer> {
    const router = new Router({ linger: 0 })
    try {
      for (const endpoint of options.endpoints) await router.bind(endpoint)
    } catch (err) {
      router.close()
      throw err
    }
    const server = new ControlServer(router, options)
    void server.#serve()
    return server
  }

  /** Stop answering and close the socket. Idempotent. */
  close(): void {
    this.#sender.close()
    // Replies already handed to ZeroMQ (the daemon's answer to `destroy`) still leave; linger 0
    // would drop them. An asker that is gone costs at most this long at process exit.
    if (this.#router.closed) return
    this.#router.linger = 1000
    this.#router.close()
  }

  async #serve(): Promise<void> {
    try {
      for await (const [identity, frame] of this.#router) {
        if (identity === undefined || frame === undefined) continue
        let request
        try {
          request = decodeControlRequest(frame)
        } catch (err) {
          void this.#reply(identity, errorReply(0n, err))
          continue
        }
        void this.#answer(identity, request.id, request.command, request.body)
      }
    } catch {
      // The socket closed: the owner is shutting down.
    }
  }

  async #answer(identity: Buffer, id: bigint, command: string, body: string): Promise<void> {
    try {
      const args = body === '' ? {} : (JSON.parse(body) as Record<string, unknown>)
      const result = await this.#dispatch(command, args)
      await this.#reply(identity, { id, type: 'ok', body: JSON.stringify(result ?? null) })
    } catch (err) {
      await this.#reply(identity, errorReply(id, err))
    }
    this.#afterReply?.(command)
  }

  /** Resolves once ZeroMQ took the reply, or it could not be sent (the asker left, or we closed). */
  #reply(identity: Buffer, reply: ControlReply): Promise<void> {
    return this.#sender.send([identity, encodeControlReply(reply)]).catch(() => {})
  }
}

function errorReply(id: bigint, err: unknown): ControlReply {
  if (err instanceof DoraError) return { id, type: 'error', code: err.code, message: err.message, hint: err.hint ?? '' }
  const s = serializeError(err)
  return { id, type: 'error', code: 'DORA_INTERNAL', message: `${s.message}\n${s.stack ?? ''}`, hint: 'This is a bug in dora-ts; please report it.' }
}
