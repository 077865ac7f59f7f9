/**
 * How a {@link Node} connects: a DEALER socket on the supervisor's endpoint, the registration
 * round trip, bounded by a timeout and an AbortSignal. What it hands back is a registered
 * connection; on every failure nothing of it is left open.
 *
 * @module
 */
import { Dealer } from 'zeromq'
import { decodeSupervisorToNode, encodeNodeToSupervisor } from '../src/protocol/node/codec.js'
import { PROTOCOL_VERSION, type Registration, type SupervisorToNode } from '../src/protocol/node/messages.js'
import { SendQueue } from '../src/transport/send-queue.js'
import { ENV_ENDPOINT, ENV_NODE_ID, ENV_NODE_SECRET } from '../src/transport/env.js'
import { NodeConnectError } from './errors.js'
import type { NodeConnectOptions } from './node-options.js'
import { raceAbortAndTimeout } from './waits.js'

/**
 * How long the socket keeps trying to deliver after close(), in ms (`DORA_TS_NODE_LINGER_MS`,
 * default 2000). close() waits for the supervisor's confirmation first, so nothing the node
 * sent depends on it; it only bounds the wait at exit when the supervisor is gone.
 */
export function lingerMs(): number {
  const value = Number(process.env['DORA_TS_NODE_LINGER_MS'] ?? '2000')
  return Number.isInteger(value) && value >= 0 ? value : 2000
}

/** A registered connection: its socket, the queue that writes on it, and what the supervisor said. */
export interface Connection {
  socket: Dealer
  sender: SendQueue
  registration: Registration
}

/** Connect and register (see Node.connect for what rejects, and how). */
export async function openConnection(options: NodeConnectOptions): Promise<Connection> {
  options.signal?.throwIfAborted()
  const endpoint = options.endpoint ?? process.env[ENV_ENDPOINT]
  const nodeId = options.nodeId ?? process.env[ENV_NODE_ID]
  if (endpoint === undefined || nodeId === undefined) {
    throw new NodeConnectError(`this program is a dora-ts node, but ${ENV_ENDPOINT} and ${ENV_NODE_ID} are not set`, {
      hint: 'Start it through a dataflow (dora-ts run dataflow.yml) rather than directly.',
    })
  }
  const socket = new Dealer({ linger: lingerMs() })
  // Only register and the reply travel here; a failed send rejects its own await.
  const sender = new SendQueue(socket, () => {})
  socket.connect(endpoint)
  const timeoutMs = options.timeoutMs ?? 10_000
  try {
    const reply = await raceAbortAndTimeout(
      register(socket, sender, nodeId, endpoint),
      options.signal,
      timeoutMs,
      () =>
        new NodeConnectError(`no answer from the supervisor at ${endpoint} within ${timeoutMs} ms`, {
          hint: 'Is the dataflow still running? Nodes must be started by dora-ts, not by hand.',
        }),
    )
    if (reply.type === 'register-rejected') {
      throw new NodeConnectError(`the supervisor rejected node "${nodeId}": ${reply.reason}`, {
        hint: 'Check that the node id matches the dataflow YAML and that dora-ts versions match.',
      })
    }
    if (reply.type !== 'registered') {
      throw new NodeConnectError(`the supervisor answered registration of "${nodeId}" with "${reply.type}"`)
    }
    return { socket, sender, registration: reply.registration }
  } catch (err) {
    // Nothing of this connection may outlive the failed attempt (the pending receive
    // rejects when the socket closes; the race above already ignores it).
    sender.close(err)
    socket.linger = 0
    socket.close()
    throw err
  }
}

/** Send the registration and decode the supervisor's answer. */
export async function register(socket: Dealer, sender: SendQueue, nodeId: string, endpoint: string): Promise<SupervisorToNode> {
  // The supervisor's proof that it spawned us; taken out of the environment so programs this
  // node starts do not inherit it.
  const secret = process.env[ENV_NODE_SECRET]
  delete process.env[ENV_NODE_SECRET]
  await sender.send([
    encodeNodeToSupervisor({
      type: 'register',
      nodeId,
      protocolVersion: PROTOCOL_VERSION,
      pid: process.pid,
      directLinks: true,
      ...(secret === undefined ? {} : { secret }),
    }),
  ])
  const [head] = await socket.receive()
  if (head === undefined) throw new NodeConnectError(`the supervisor at ${endpoint} sent an empty registration reply`)
  return decodeSupervisorToNode(head)
}
