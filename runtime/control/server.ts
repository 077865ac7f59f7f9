/**
 * The answering side of a control socket: a ZeroMQ ROUTER that takes `ControlRequest`s
 * (src/protocol/schema/control.capnp), hands each to `dispatch`, and replies `ok` with the JSON of its
 * result or `error` with the DoraError's code, message and hint. Requests are answered
 * concurrently and each reply carries its request's id, so a slow command never holds up a
 * quick one. Used by the supervisor daemon (`dora-ts up`) and by every run's state service.
 */
import { Router } from 'zeromq'
import { DoraError, errorStack } from '../../src/errors.js'
import { decodeControlRequest, encodeControlReply, type ControlReply } from '../../src/protocol/control/codec.js'
import { SendQueue } from '../../src/transport/send-queue.js'
import { registerZapDomain, type ZapAllow, type ZapDecision } from '../../src/security/zap.js'
import { BadControlRequestError } from '../daemon/errors.js'

/**
 * An endpoint that only CURVE clients on an allow list may use (every `tcp://` endpoint: a TCP
 * port, even on loopback, is open to every user of the machine).
 */
export interface CurveEndpoint {
  endpoint: string
  /** The server's secret key (Z85). */
  secretKey: string
  /** Whether a client's public key (Z85) may connect; asked at every connection. */
  allow: ZapAllow
  /** Told each decision (the daemon logs refusals). */
  onDecision?: (decision: ZapDecision) => void
}

/** Runs one command; its result goes back as JSON. Throw a DoraError to refuse. */
export type ControlDispatch = (command: string, args: Record<string, unknown>) => Promise<unknown>

export interface ControlServerOptions {
  /**
   * Endpoints to bind, e.g. `ipc:///run/user/1000/dora-ts-1000/control.sock` (private by its
   * directory's mode), or a {@link CurveEndpoint}. A plain `tcp://` string is refused.
   */
  endpoints: ReadonlyArray<string | CurveEndpoint>
  dispatch: ControlDispatch
  /** Called once the reply to `command` has been handed to ZeroMQ (the daemon shuts down after `destroy`). */
  afterReply?: (command: string) => void
}

/** Largest control request taken in; a `start` is a few hundred bytes. Bigger frames are dropped unread. */
export const MAX_CONTROL_FRAME = 64 * 1024

interface Listener {
  router: Router
  sender: SendQueue
  unregister: () => void
}

export class ControlServer {
  readonly #listeners: Listener[]
  readonly #dispatch: ControlDispatch
  readonly #afterReply: ((command: string) => void) | undefined

  private constructor(listeners: Listener[], options: ControlServerOptions) {
    this.#listeners = listeners
    this.#dispatch = options.dispatch
    this.#afterReply = options.afterReply
  }

  /** Bind every endpoint and start answering; nothing stays bound if one bind fails. */
  static async bind(options: ControlServerOptions): Promise<ControlServer> {
    const listeners: Listener[] = []
    const open = (router: Router, unregister: () => void): Router => {
      // A reply that cannot be sent (the asker left) is nobody's loss.
      listeners.push({ router, sender: new SendQueue(router, () => {}), unregister })
      return router
    }
    try {
      const plain = options.endpoints.filter((e): e is string => typeof e === 'string')
      for (const endpoint of plain) {
        if (!endpoint.startsWith('ipc://') && !endpoint.startsWith('inproc://')) {
          throw new BadControlRequestError(`refusing to serve the control socket on ${endpoint} without authentication`, {
            hint: 'Only ipc:// endpoints (private by their directory) may be plain; TCP needs CURVE keys (dora-ts keys).',
          })
        }
      }
      if (plain.length > 0) {
        const router = open(new Router({ linger: 0, maxMessageSize: MAX_CONTROL_FRAME }), () => {})
        for (const endpoint of plain) await router.bind(endpoint)
      }
      for (const e of options.endpoints) {
        if (typeof e === 'string') continue
        const zap = await registerZapDomain(e.allow, e.onDecision)
        const router = open(
          new Router({
            linger: 0,
            maxMessageSize: MAX_CONTROL_FRAME,
            curveServer: true,
            curveSecretKey: e.secretKey,
            zapDomain: zap.domain,
            // No ZAP answer means refuse, never "let everyone in".
            zapEnforceDomain: true,
          }),
          () => zap.unregister(),
        )
        await router.bind(e.endpoint)
      }
    } catch (err) {
      for (const l of listeners) {
        l.router.close()
        l.unregister()
      }
      throw err
    }
    const server = new ControlServer(listeners, options)
    for (const l of listeners) void server.#serve(l)
    return server
  }

  /** The endpoints actually bound (a `tcp://…:0` shows its port). */
  get endpoints(): string[] {
    return this.#listeners.map((l) => l.router.lastEndpoint ?? '')
  }

  /** Stop answering and close the sockets. Idempotent. */
  close(): void {
    for (const l of this.#listeners) {
      l.sender.close()
      // Replies already handed to ZeroMQ (the daemon's answer to `destroy`) still leave; linger 0
      // would drop them. An asker that is gone costs at most this long at process exit.
      if (!l.router.closed) {
        l.router.linger = 1000
        l.router.close()
      }
      l.unregister()
    }
  }

  async #serve(listener: Listener): Promise<void> {
    try {
      for await (const [identity, frame] of listener.router) {
        if (identity === undefined || frame === undefined) continue
        let request
        try {
          request = decodeControlRequest(frame)
        } catch (err) {
          void this.#reply(listener, identity, errorReply(0n, err))
          continue
        }
        void this.#answer(listener, identity, request.id, request.command, request.body)
      }
    } catch {
      // The socket closed: the owner is shutting down.
    }
  }

  async #answer(listener: Listener, identity: Buffer, id: bigint, command: string, body: string): Promise<void> {
    try {
      const result = await this.#dispatch(command, parseBody(command, body))
      await this.#reply(listener, identity, { id, type: 'ok', body: JSON.stringify(result ?? null) })
    } catch (err) {
      await this.#reply(listener, identity, errorReply(id, err))
    }
    this.#afterReply?.(command)
  }

  /** Resolves once ZeroMQ took the reply, or it could not be sent (the asker left, or we closed). */
  #reply(listener: Listener, identity: Buffer, reply: ControlReply): Promise<void> {
    return listener.sender.send([identity, encodeControlReply(reply)]).catch(() => {})
  }
}

/** The JSON object of a request; anything else is refused with a message that quotes nothing back. */
function parseBody(command: string, body: string): Record<string, unknown> {
  if (body === '') return {}
  let args: unknown
  try {
    args = JSON.parse(body)
  } catch {
    args = undefined
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    throw new BadControlRequestError(`the body of the "${command.slice(0, 40)}" request is not a JSON object`, {
      hint: 'The CLI and the supervisor may be different dora-ts versions: run dora-ts destroy, then dora-ts up.',
    })
  }
  return args as Record<string, unknown>
}

/**
 * The reply for a failed request. A DoraError's message was written for the user; anything else
 * is a bug whose stack (install paths, internals) stays in this process's log and never goes to
 * whoever asked.
 */
function errorReply(id: bigint, err: unknown): ControlReply {
  if (err instanceof DoraError) return { id, type: 'error', code: err.code, message: err.message, hint: err.hint ?? '' }
  process.stderr.write(`dora-ts: internal error answering a control request: ${errorStack(err)}\n`)
  return {
    id,
    type: 'error',
    code: 'DORA_INTERNAL',
    message: 'the supervisor failed to answer this request (an internal error; details are in its log)',
    hint: 'This is a bug in dora-ts; please report it with the supervisor log.',
  }
}
