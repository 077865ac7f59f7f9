/**
 * The process's ZAP handler (ZeroMQ RFC 27): libzmq asks whoever is bound on
 * `inproc://zeromq.zap.01` whether a CURVE client may connect, and zeromq.js has no handler of
 * its own, so without this one every client that knows the server's public key (which is
 * public) would get in. We answer 200 only for a client key on the allow list of the socket's
 * ZAP domain, and 400 for everything else (unknown domain, other mechanism, malformed request).
 *
 * One handler per process (the inproc name is fixed), shared by every CURVE server socket of the
 * process; each server registers its own domain and allow check, and the socket closes when the
 * last one unregisters. Server sockets also set `zapEnforceDomain`, so a missing handler means
 * "refuse", never "accept all".
 *
 * @module
 */
import { Reply } from 'zeromq'
import { z85Encode } from './z85.js'

export const ZAP_ENDPOINT = 'inproc://zeromq.zap.01'

/** Decides whether a client's public key (Z85) may connect. */
export type ZapAllow = (clientPublicKey: string) => boolean

/** What the handler decided, for tests and the log. */
export interface ZapDecision {
  domain: string
  address: string
  clientKey: string | undefined
  allowed: boolean
}

interface ZapState {
  socket: Reply
  domains: Map<string, { allow: ZapAllow; onDecision: ((d: ZapDecision) => void) | undefined }>
}

let state: ZapState | undefined
/** The handler being started (concurrent first registrations share it). */
let starting: Promise<ZapState> | undefined
let nextDomain = 1

/**
 * libzmq frees an inproc name when the closed socket is reaped, asynchronously: a handler bound
 * right after the last one closed can find the name still taken (3 in 300 close/bind cycles).
 * Unbinding first does not help: unbinding an inproc endpoint can abort the process inside
 * libzmq 4.3.5 (pipe.cpp:355 "_state == term_ack_sent", seen once in CI). So: retry the bind.
 */
const BIND_ATTEMPTS = 100
const BIND_RETRY_MS = 10

/**
 * Start answering ZAP requests for a new, unique domain; returns the domain to set as the
 * server socket's `zapDomain` and a function that unregisters it. Call before the server binds.
 *
 * @example
 * const zap = await registerZapDomain((key) => allowed.has(key))
 * const router = new Router({ curveServer: true, curveSecretKey, zapDomain: zap.domain, zapEnforceDomain: true })
 */
export async function registerZapDomain(allow: ZapAllow, onDecision?: (d: ZapDecision) => void): Promise<{ domain: string; unregister(): void }> {
  const current = state ?? (await handler())
  const domain = `dora-ts-${process.pid}-${nextDomain++}`
  current.domains.set(domain, { allow, onDecision })
  let done = false
  return {
    domain,
    unregister() {
      if (done) return
      done = true
      current.domains.delete(domain)
      if (current.domains.size === 0 && state === current) {
        state = undefined
        current.socket.close()
      }
    },
  }
}

/** The running handler, started once however many registrations ask at the same moment. */
function handler(): Promise<ZapState> {
  starting ??= startHandler().finally(() => (starting = undefined))
  return starting
}

async function startHandler(): Promise<ZapState> {
  const socket = new Reply({ linger: 0 })
  for (let attempt = 1; ; attempt++) {
    try {
      await socket.bind(ZAP_ENDPOINT)
      break
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE' || attempt >= BIND_ATTEMPTS) {
        socket.close()
        throw err
      }
      await new Promise((resolve) => setTimeout(resolve, BIND_RETRY_MS))
    }
  }
  state = { socket, domains: new Map() }
  void serve(state)
  return state
}

async function serve(current: ZapState): Promise<void> {
  try {
    for await (const frames of current.socket) {
      await current.socket.send(answer(current, frames))
    }
  } catch {
    // The socket closed: the last CURVE server of the process is gone.
  }
}

function answer(current: ZapState, frames: Buffer[]): Array<string | Buffer> {
  const [version, requestId, domainFrame, addressFrame, , mechanism, credentials] = frames
  const id = requestId ?? ''
  // A version we do not speak gets the error the RFC asks for, with the id we could read.
  if (version?.toString() !== '1.0') return ['1.0', id, '500', 'unsupported ZAP version', '', '']
  const domain = domainFrame?.toString() ?? ''
  const entry = current.domains.get(domain)
  const clientKey = mechanism?.toString() === 'CURVE' && credentials?.length === 32 ? z85Encode(credentials) : undefined
  const allowed = entry !== undefined && clientKey !== undefined && entry.allow(clientKey)
  entry?.onDecision?.({ domain, address: addressFrame?.toString() ?? '', clientKey, allowed })
  return allowed ? ['1.0', id, '200', 'OK', clientKey, ''] : ['1.0', id, '400', 'client key not allowed', '', '']
}
