/**
 * The sending end of a node's best-effort links (`reliability: best_effort` inputs, see
 * runtime/supervisor/direct-links.ts): one PUSH socket per receiving node, connected to the
 * endpoint that node binds, written straight from {@link Node.send} without the supervisor.
 *
 * A send never waits: the socket's `sendTimeout` is 0, so when its pipe is full (the receiver
 * is not reading, or not there yet beyond the high-water mark) ZeroMQ refuses the message at
 * once and it is dropped and counted. That is the whole contract of best effort: the newest
 * data keeps flowing, nothing is stored or sent again.
 *
 * Large payloads (at least {@link DIRECT_SHM_THRESHOLD_BYTES}) are written once to a segment
 * file of the run's shm directory and only its name is sent; with several receivers each gets
 * its own name for the same file (a hard link), which it deletes once it has read it. A
 * segment whose message could not be sent is deleted here; one a killed receiver never read is
 * swept when that receiver's process ends (its names start with the receiver's id), and at the
 * end of the run with the directory.
 *
 * @module
 */
import { Push } from 'zeromq'
import { existsSync, linkSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { encodeNodeToNode } from '../src/protocol/node/codec.js'
import { hasLinkLog, type DirectRoute, type Registration, type SharedPayload } from '../src/protocol/node/messages.js'
import type { MessageHeader } from '../src/events.js'
import { errorMessage } from '../src/errors.js'
import { LINK_READ_AHEAD, LinkLogWriter, lowestCursor, type LinkPosition } from '../src/transport/link-log.js'
import { isNoRoom } from '../src/no-room.js'
import { ShmFallback } from './shm-fallback.js'
import type { DirectCounter } from './direct-counter.js'
import { LinkLogWriteError } from './errors.js'
import { SegmentPool } from './shm.js'
import { unlinkQuietly } from '../src/unlink-quietly.js'
import { ACK_FROM_BYTES, ackPath, readAck } from './link-acks.js'

/**
 * The smallest send high-water mark of a link, in messages: ZeroMQ's I/O thread drains the pipe
 * into the kernel while the program sends, but a burst of sends in one turn of the event loop
 * must not be dropped just because it outran that thread by a few messages.
 */
export const MIN_DIRECT_PIPE = 64

/**
 * The bytes a sender's pipe to one receiver may hold beyond `queue_size` messages (32 MiB; a
 * node's `DORA_TS_DIRECT_PIPE_BYTES` overrides it, 0: messages only). A high-water mark counts
 * messages: 64 of a camera's 4 MB frames waited for a viewer that had stopped reading, 256 MB
 * in the camera's process. A pipe that has carried a message of `largest` bytes holds at most
 * `max(queue_size, 2, 32 MiB / largest)` messages from then on ({@link sendPipeLimit}); what
 * finds no room is dropped and counted, as when the pipe is full of small ones. Large
 * best-effort payloads that travel as shared-memory files are held to the same number of
 * files not yet read. (A receiver's own pipe stays counted in messages: ZeroMQ keeps a bound
 * socket's pipes as they were made when it connected, measured, and a smaller one loses what
 * its socket had not taken in when the sender ends: see the README.)
 */
export const DIRECT_PIPE_BYTES = 32 << 20

/** A node's setting `name` in bytes (a whole number, 0 and up), else `fallback`. */
function envBytes(name: string, fallback: number): number {
  const raw = process.env[name]
  const value = raw === undefined || raw === '' ? fallback : Number(raw)
  return Number.isSafeInteger(value) && value >= 0 ? value : fallback
}

/**
 * What a route asks of its pipe, in messages: its `queue_size`, or for a reliable direct link
 * at most {@link LINK_READ_AHEAD} (its receiver reads no further ahead of its program, so a
 * socket copy past that is dropped there, and the pipe refuses it cheaper here: the log has
 * it). With the torture's `queue_size` of 10 000 000, a sink that fell behind had ZeroMQ hold
 * two million socket copies and spent its time taking each in to drop it.
 */
export function pipeQueue(route: { queueSize: number; logDir?: string | undefined }): number {
  return hasLinkLog(route) ? Math.min(route.queueSize, LINK_READ_AHEAD) : route.queueSize
}

/** The send high-water mark of a pipe of small messages, for receivers whose largest `queue_size` is `queue`. */
function pipeLimitByCount(queue: number): number {
  return Math.max(MIN_DIRECT_PIPE, 2 * queue)
}

/**
 * The send high-water mark of a pipe whose largest message so far had `largest` bytes, for
 * receivers whose largest `queue_size` is `queue`, with `budget` bytes ({@link DIRECT_PIPE_BYTES};
 * 0: none): {@link MIN_DIRECT_PIPE} or twice the queue while such messages fit in the budget;
 * fewer, but never under the queue (a burst of a queue's worth is never dropped for room) nor
 * under 2, for larger ones.
 */
export function sendPipeLimit(queue: number, largest: number, budget = DIRECT_PIPE_BYTES): number {
  const byCount = pipeLimitByCount(queue)
  if (budget === 0 || largest * byCount <= budget) return byCount
  return Math.min(byCount, Math.max(queue, 2, Math.floor(budget / largest)))
}

/**
 * How long a sender's close keeps trying to put its `input-closed` on a link whose pipe is full
 * (ms), how long a receiver told by the supervisor that the sender closed (InputClosed with
 * `linkClosed`) waits for that marker before it ends the input anyway (the marker can be lost:
 * the pipe stayed full, the receiver restarted, the wait must end), and how long a node that
 * closes cleanly lets ZeroMQ hand over what its links still hold (the linger of their sockets).
 */
export const DIRECT_CLOSE_WAIT_MS = 1_000

/**
 * The linger of a cleanly closing node's links (ms): as long as a receiver waits for the close
 * marker, which follows the last message. It was 100 ms, and a sender that closed right after a
 * burst (100 x 16 KiB) on a loaded machine lost its tail and the marker at exit: the receiver
 * got 63 of 100 and ended the input after its wait. A receiver that is gone holds the sender's
 * exit at most this long; a destroyed node (or a killed one) drops what ZeroMQ holds at once.
 */
export const DIRECT_LINGER_MS = DIRECT_CLOSE_WAIT_MS

/**
 * The linger of a node's links when it closes because the dataflow is stopping (a Stop that is
 * not "all inputs closed"): its receivers are stopping too and drop what arrives after their
 * Stop, so a long linger only delays the exit when a receiver has already gone. Below 500 ms:
 * zeromq.js prints "WARNING: Waiting for queued ZeroMQ messages to be delivered" at exit when
 * its sockets' lingering holds the process longer than that, and every stop of a dataflow with
 * a best-effort link whose receiver ended first printed it (examples/camera).
 */
export const DIRECT_STOP_LINGER_MS = 250

/** Between two tries of a close marker on a full pipe (ms). */
const CLOSE_RETRY_MS = 5

/**
 * Best-effort payloads of at least this many bytes go through shared memory (8 MiB), when the
 * run has a shared-memory directory. Far above the supervisor path's 64 KiB: there a payload
 * crosses two sockets and the supervisor, here one socket that zeromq.js feeds without a copy.
 * Segments are pooled (a file its receivers freed is written over, no new pages), yet measured
 * on the 2-core VM (bench/RESULTS.md) pooled segments were not faster than the socket at 1 and
 * 4 MiB: either way the receiver's copy lands in fresh memory, and its page faults cost more
 * than the rest of the transfer. The node's `DORA_TS_DIRECT_SHM_THRESHOLD` (bytes; 0: never)
 * overrides it.
 */
export const DIRECT_SHM_THRESHOLD_BYTES = 8 << 20

interface Link {
  route: DirectRoute
  socket: Push
  pipe: Pipe
  /**
   * The shared-memory files sent on this link (best effort) whose receiver may not have read
   * them yet, oldest first: it lets go of each name as it reads it, in order. Their names
   * travel small, and many wait in the kernel's socket buffer beyond any high-water mark: held
   * to {@link Pipe.limit} files here.
   */
  unread: string[]
  /** Where its receiver acknowledges the large messages it took (link-acks.ts); '' without a shared-memory folder. */
  ackPath: string
  /**
   * The sequences of the large messages sent on this link's socket that its receiver may not
   * have taken yet, oldest first: with its acknowledgements, what is on its way to it, in its
   * pipe, the kernel's and the receiver's, held to {@link Pipe.limit} ({@link DirectSender.send}).
   */
  unacked: bigint[]
}

/** A sender's pipe to one receiving node (one socket), and what bounds it (see {@link sendPipeLimit}). */
interface Pipe {
  socket: Push
  /** The largest `queue_size` among the receivers it feeds. */
  queue: number
  /** The most bytes one message put in it (a shared-memory payload counts: its file waits as long). */
  largest: number
  /** Its send high-water mark, messages. */
  limit: number
}

/**
 * The link log of one output that reliable direct links read (link-log.ts): opened on the
 * first send, collected behind its receivers' cursors every {@link COLLECT_EVERY} appends, and
 * behind its newest `queue_size` messages whatever the cursors say ({@link logBound}).
 */
interface OutputLog {
  dir: string
  cursors: string[]
  /**
   * The largest `queue_size` among its receivers: a message further behind the newest ones
   * would be dropped unread by every receiver's `drop_oldest` queue, so the log need not keep
   * it for a receiver that stopped reading (its file goes; see LinkLogWriter.collect and
   * {@link logBound}).
   */
  queue: number
  writer: LinkLogWriter | undefined
  /** Messages this process appended. */
  appended: number
  /** Close entries this process appended (its own end). */
  closes: number
}

/**
 * Entries of a link log beyond a receiver's `queue_size` kept for it whatever it reads, until
 * the sender's process has appended a queue's worth of messages: a log holds the close entry of
 * each clean end of its sender besides messages (one per run, or per restart), and those must
 * not push the newest `queue_size` messages out. More closes than this after a receiver's last
 * read (sixteen runs or restarts that sent nothing) can cost it some of them, as its queue would
 * drop them to newer ones.
 */
export const CLOSE_ENTRY_ALLOWANCE = 16

/**
 * The newest seq of `log` that its receivers' queues would drop unread if they came to it now
 * (`nextSeq`: the seq its next entry gets): entries up to it may go, read or not. Once this
 * process has appended `queue` messages, they are the newest entries but for its own close
 * (earlier processes' closes come before them): the newest `queue` messages are known, and
 * nothing else is kept for a receiver that stopped reading. Before, the closes of earlier runs
 * and restarts may lie among the newest entries: {@link CLOSE_ENTRY_ALLOWANCE} more are kept.
 * (A 4 MB camera at 30 Hz into a stopped viewer with `queue_size: 10` kept 26 frames and part
 * of a 16 MiB file with the allowance alone.)
 */
export function logBound(log: Pick<OutputLog, 'queue' | 'appended' | 'closes'>, nextSeq: bigint): bigint {
  const keep = log.appended >= log.queue ? log.queue + log.closes : log.queue + CLOSE_ENTRY_ALLOWANCE
  return nextSeq - 1n - BigInt(keep)
}

/** Appends between two collections of a link log's consumed files (and at every new file). */
const COLLECT_EVERY = 256

/**
 * A message on a reliable direct link whose payload is at least this large travels in the log
 * only (8 KiB): the socket carries its header, and the receiver reads the entry back, one copy
 * out of tmpfs. On the socket as well, the payload cost the sender a copy for ZeroMQ (which
 * would read the caller's buffer after send() resolved) and both ZeroMQ I/O threads a copy
 * through the kernel, while the log holds it already. Measured on the 2-core VM (streams of
 * awaited sends, the two ways alternating: bench/RESULTS.md): 8 KB 15k -> 24k msg/s, 16 KB 14k
 * -> 26k, 64 KB 8k -> 12k, round trips no slower; at 4 KB even, at 1 KB the socket ahead
 * (43k against 35k: a read per message costs more than it saves). Below, the payload rides the
 * socket too and the receiver never reads the log unless it missed something. (It was 256 KiB
 * until 2026-12-05.) A node's `DORA_TS_LINK_READ_BYTES` (bytes; 0: always on the socket too)
 * overrides it.
 */
export const LINK_READ_BYTES = 8 * 1024

/** zeromq.js copies a frame of at most this many bytes as it is sent (above, it keeps a reference to it). */
export const ZMQ_COPIES_UP_TO = 128

/**
 * Whether ZeroMQ would still read `data` after a send that resolves before its I/O thread has
 * written it out: a frame above {@link ZMQ_COPIES_UP_TO} that the caller did not hand over
 * (`transfer`). Such a frame gets a copy, so the caller's buffer is its own again.
 */
export function zmqWouldBorrow(data: Uint8Array, transfer: boolean): boolean {
  return !transfer && data.byteLength > ZMQ_COPIES_UP_TO
}

export class DirectSender {
  /** output id -> the best-effort receivers of that output. */
  readonly #links = new Map<string, Link[]>()
  readonly #sockets: Push[] = []
  /** Sockets that carry best-effort messages: only they linger at a clean close (a logged message is in its log). */
  readonly #lingering = new Set<Push>()
  /** Outputs read by best-effort receivers only: the supervisor is not sent them. */
  readonly #only: ReadonlySet<string>
  readonly #counter: DirectCounter
  readonly #shmDir: string
  readonly #shmThreshold: number
  /** {@link DIRECT_PIPE_BYTES}, or the node's `DORA_TS_DIRECT_PIPE_BYTES`. */
  readonly #pipeBytes = envBytes('DORA_TS_DIRECT_PIPE_BYTES', DIRECT_PIPE_BYTES)
  /** {@link LINK_READ_BYTES}, or the node's `DORA_TS_LINK_READ_BYTES` (0: never in the log only). */
  readonly #linkReadBytes = envBytes('DORA_TS_LINK_READ_BYTES', LINK_READ_BYTES)
  readonly #prefix: string
  readonly #nodeId: string
  #segments = 0
  /** Whether shared memory may be tried for the next large best-effort payload. */
  readonly #shmFallback: ShmFallback
  /** The files this sender wrote, taken back once their receivers free them; made on the first large send. */
  #pool: SegmentPool | undefined
  /** output id -> its link log, for outputs read through reliable direct links. */
  readonly #logs = new Map<string, OutputLog>()
  readonly #dataflowId: string
  /** This process's restart count in the run, modulo 65536: every message names it, so its receivers' acknowledgements do (link-acks.ts). */
  readonly #life: number

  constructor(registration: Registration, counter: DirectCounter) {
    this.#counter = counter
    this.#only = new Set(registration.directOnly ?? [])
    this.#shmDir = registration.shmDir
    // The supervisor's threshold 0 means shared memory is off for the run: off here too.
    this.#shmThreshold =
      registration.shmDir === '' || registration.shmThreshold === 0 ? 0 : envBytes('DORA_TS_DIRECT_SHM_THRESHOLD', DIRECT_SHM_THRESHOLD_BYTES)
    this.#nodeId = registration.nodeId
    this.#shmFallback = new ShmFallback(registration.nodeId, registration.shmDir, 'large best-effort payloads')
    this.#dataflowId = registration.dataflowId
    this.#prefix = `${registration.nodeId}@${registration.restartCount}@`
    this.#life = registration.restartCount & 0xffff
    const byEndpoint = new Map<string, Pipe>()
    for (const route of registration.directRoutes ?? []) {
      let pipe = byEndpoint.get(route.endpoint)
      const queue = pipeQueue(route)
      if (pipe === undefined) {
        // reconnectInterval: a receiver that binds after this connect (it starts later, or
        // restarts) is reached within ~10 ms instead of ZeroMQ's default 100 ms, during which
        // messages wait in the pipe and a sender that ends meanwhile would lose them.
        const limit = pipeLimitByCount(queue)
        const socket = new Push({ sendTimeout: 0, sendHighWaterMark: limit, linger: 0, reconnectInterval: 10 })
        socket.connect(route.endpoint)
        pipe = { socket, queue, largest: 0, limit }
        byEndpoint.set(route.endpoint, pipe)
        this.#sockets.push(socket)
      } else if (queue > pipe.queue) {
        pipe.queue = queue
        pipe.limit = pipe.socket.sendHighWaterMark = pipeLimitByCount(pipe.queue)
      }
      const socket = pipe.socket
      if (!hasLinkLog(route)) this.#lingering.add(socket)
      const list = this.#links.get(route.outputId) ?? []
      const ackFile = registration.shmDir === '' ? '' : ackPath(registration.shmDir, route.receiverNode, registration.nodeId, route.outputId, route.inputId)
      list.push({ route, socket, pipe, unread: [], ackPath: ackFile, unacked: [] })
      this.#links.set(route.outputId, list)
      if (hasLinkLog(route)) {
        const log = this.#logs.get(route.outputId) ?? { dir: route.logDir, cursors: [], queue: 1, writer: undefined, appended: 0, closes: 0 }
        log.cursors.push(route.cursorName ?? '')
        log.queue = Math.max(log.queue, route.queueSize)
        this.#logs.set(route.outputId, log)
      }
    }
  }

  /** True when `outputId` has best-effort receivers. */
  has(outputId: string): boolean {
    return this.#links.has(outputId)
  }

  /** True when every receiver of `outputId` is best effort: the supervisor need not see it. */
  only(outputId: string): boolean {
    return this.#only.has(outputId)
  }

  /**
   * Hand `data` to ZeroMQ for every direct receiver of `outputId`; a best-effort receiver whose
   * pipe is full misses it (counted as dropped). For reliable direct receivers the message is
   * first appended to the output's link log: durable from there, whatever ZeroMQ does with it
   * (a receiver that misses it reads it from the log). Never waits; throws a
   * {@link LinkLogWriteError} (nothing appended, nothing sent) when the log cannot take it.
   */
  send(outputId: string, header: MessageHeader, data: Uint8Array, transfer = false): void {
    const links = this.#links.get(outputId)
    if (links === undefined) return
    // What the sockets carry: `data` itself only when the caller handed it over. ZeroMQ keeps
    // a reference to a payload of more than 128 bytes until its I/O thread has written it out,
    // after send() resolved: a camera that writes its next frame into the same buffer then
    // sent torn frames (1 713 of 3 000 64 KB frames under load on a reliable direct link, whose
    // log held the right bytes; 2 998 of 3 000 on a best-effort one). One copy for every socket.
    let wire: Uint8Array | undefined = zmqWouldBorrow(data, transfer) ? undefined : data
    const log = this.#logs.get(outputId)
    const at = log === undefined ? undefined : this.#append(outputId, log, header, data)
    // Its logged links carry the header alone (the receiver reads the payload from the log).
    const logOnly = at !== undefined && this.#inLogOnly(data)
    if (this.#only.has(outputId)) this.#counter.sent++
    for (const link of links) {
      // A payload that waits in the link log only is bounded there (logBound), not in the pipe.
      const inLogOnly = logOnly && hasLinkLog(link.route)
      if (!inLogOnly && data.byteLength > link.pipe.largest) this.#grow(link.pipe, data.byteLength)
    }
    const bestEffort = log === undefined ? links : links.filter((l) => !hasLinkLog(l.route))
    const shares = bestEffort.length === 0 ? undefined : this.#shareWithRoom(data, bestEffort)
    // The header of a receiver without a segment of its own depends only on its input id and
    // on whether its link is logged: encoded once for every such receiver (fan-out to 16 sinks
    // of one input id encodes one header, not 16).
    let heads: Map<string, Uint8Array> | undefined
    for (let i = 0; i < links.length; i++) {
      const link = links[i]!
      const { route, socket } = link
      const logged = at !== undefined && hasLinkLog(route)
      // Its receiver has as many of this link's files unread as its pipe may hold: dropped (counted).
      if (!logged && shares?.full.has(link) === true) continue
      const shm = logged ? undefined : shares?.segments?.get(link)
      const inLogOnly = logged && logOnly
      // As many large messages on their way to it as its pipe may hold (once it holds fewer
      // than small ones, for their bytes): dropped (counted).
      const bounded = !logged && shm === undefined && data.byteLength >= ACK_FROM_BYTES && link.pipe.limit < pipeLimitByCount(link.pipe.queue)
      if (bounded && !this.#roomOnTheWay(link)) continue
      // (A single receiver, the common case, allocates no map and no key.)
      const key = links.length > 1 && shm === undefined ? `${logged ? 'l' : 'b'}${route.inputId}` : undefined
      let head = key === undefined ? undefined : heads?.get(key)
      if (head === undefined) {
        head = encodeNodeToNode({
          type: 'input',
          id: route.inputId,
          sequence: header.sequence,
          timestampNs: header.timestampNs,
          messageId: header.messageId,
          encoding: header.encoding,
          metadata: header.metadata,
          ...(shm === undefined ? {} : { shm }),
          ...(logged ? { link: { seq: at.seq, end: at.end, newFile: at.file === at.seq } } : {}),
          ...(this.#life === 0 ? {} : { senderLife: this.#life }),
        })
        if (key !== undefined) (heads ??= new Map()).set(key, head)
      }
      // sendTimeout 0: the promise is settled now, either way; never two sends pending. A
      // logged message the pipe refuses is not lost: its receiver reads it from the log.
      if (bounded) link.unacked.push(header.sequence)
      socket.send(shm !== undefined || inLogOnly ? [head] : [head, (wire ??= Buffer.from(data))]).catch(() => {
        if (logged) return
        this.#counter.dropOnLink(route.receiverNode, route.inputId)
        if (shm !== undefined) unlinkQuietly(join(this.#shmDir, shm.segment))
      })
    }
  }

  /** Whether a logged message of `data` travels in its link log only (the socket carries its header). */
  #inLogOnly(data: Uint8Array): boolean {
    return this.#linkReadBytes !== 0 && data.byteLength >= this.#linkReadBytes
  }

  /**
   * A pipe carries a message of `bytes`, more than any before: its high-water mark comes down
   * to what {@link DIRECT_PIPE_BYTES} allows (before this message goes in).
   */
  #grow(pipe: Pipe, bytes: number): void {
    pipe.largest = bytes
    const limit = sendPipeLimit(pipe.queue, bytes, this.#pipeBytes)
    if (limit === pipe.limit) return
    pipe.limit = limit
    pipe.socket.sendHighWaterMark = limit
  }

  /**
   * Whether a large message may go on `link` as far as its receiver's acknowledgements tell:
   * fewer than {@link Pipe.limit} of the large messages sent are not acknowledged yet (the
   * receiver's pipe cannot be bounded in bytes otherwise). No acknowledgement to read (the
   * receiver has taken no large message yet, or restarted): its pipes' own high-water marks
   * bound it. One of this sender's older life (it restarted while its receiver stalled): none
   * of this life's is taken yet. A drop is counted here.
   */
  #roomOnTheWay(link: Link): boolean {
    if (link.ackPath === '') return true
    const ack = readAck(link.ackPath)
    const unacked = link.unacked
    if (ack === undefined) {
      unacked.length = 0
      return true
    }
    // Taken, or lost on the way (the receiver took a later one): in order either way. (From
    // an older receiver SDK, the sequence alone: one above all of them is an older sender
    // process's, and nothing is known to wait.)
    if (ack.life === undefined || ack.life === this.#life) while (unacked.length > 0 && unacked[0]! <= ack.seq) unacked.shift()
    if (unacked.length < link.pipe.limit) return true
    this.#counter.dropOnLink(link.route.receiverNode, link.route.inputId)
    return false
  }

  /**
   * Share a large payload ({@link #share}) with the best-effort links whose receivers have read
   * enough of their earlier files (`full`: the others, whose drop is counted here); undefined
   * when the payload goes on the socket.
   */
  #shareWithRoom(data: Uint8Array, links: readonly Link[]): { segments: Map<Link, SharedPayload> | undefined; full: Set<Link> } | undefined {
    if (!this.#wouldShare(data.byteLength)) return undefined
    const full = new Set<Link>()
    const room: Link[] = []
    for (const link of links) {
      const unread = link.unread
      // Read (or deleted unsent): its name is gone. In order, so the first still there ends it.
      while (unread.length > 0 && !existsSync(join(this.#shmDir, unread[0]!))) unread.shift()
      if (unread.length < link.pipe.limit) room.push(link)
      else {
        full.add(link)
        this.#counter.dropOnLink(link.route.receiverNode, link.route.inputId)
      }
    }
    const shared = room.length === 0 ? undefined : this.#share(data, room)
    if (shared === undefined) return { segments: undefined, full }
    const segments = new Map<Link, SharedPayload>()
    room.forEach((link, i) => {
      segments.set(link, shared[i]!)
      link.unread.push(shared[i]!.segment)
    })
    return { segments, full }
  }

  /** Append a message of `outputId` to its link log (opened on first use); where it went. */
  #append(outputId: string, log: OutputLog, header: MessageHeader, data: Uint8Array): LinkPosition {
    // The receiver knows which of its inputs a log feeds: the entry names none (one log serves
    // every receiver of the output).
    const entryHead = encodeNodeToNode({
      type: 'input',
      id: '',
      sequence: header.sequence,
      timestampNs: header.timestampNs,
      messageId: header.messageId,
      encoding: header.encoding,
      metadata: header.metadata,
    })
    let at: LinkPosition
    try {
      log.writer ??= LinkLogWriter.open(log.dir)
      at = this.#appendMakingRoom(log, log.writer, entryHead, data)
    } catch (err) {
      throw new LinkLogWriteError(
        `node "${this.#nodeId}" could not append its message to the link log of output "${outputId}" in ${log.dir}: ${errorMessage(err)}; nothing was sent`,
        // The hint is the error code's (src/error-codes.ts): room in /dev/shm, or the opt-out.
        { cause: err },
      )
    }
    // Also at each new file: consumed files become the spares the next rotation writes over,
    // instead of tmpfs allocating fresh pages for every file of a stream of large messages.
    if (++log.appended % COLLECT_EVERY === 0 || at.file === at.seq) this.#collect(log)
    return at
  }

  /**
   * Append to `writer`; when its file system is full, make room behind the receivers' cursors
   * and their queues' bound (LinkLogWriter.makeRoom) and try once more.
   */
  #appendMakingRoom(log: OutputLog, writer: LinkLogWriter, header: Uint8Array, payload: Uint8Array): LinkPosition {
    try {
      return writer.append(header, payload)
    } catch (err) {
      if (!isNoRoom(err)) throw err
      writer.makeRoom(lowestCursor(log.dir, log.cursors), logBound(log, writer.nextSeq))
      return writer.append(header, payload)
    }
  }

  /**
   * Delete the log files every receiver of `log` has consumed, and those holding only entries
   * its receivers' queues would drop ({@link logBound}; `compact`: the newest too, when all is consumed, see
   * LinkLogWriter.compact). A failure only delays it.
   */
  #collect(log: OutputLog, compact = false): void {
    const writer = log.writer
    // Nothing but the newest file: no cursor to read, no folder to list.
    if (writer === undefined || (!compact && !writer.hasOlderFiles)) return
    try {
      const consumed = lowestCursor(log.dir, log.cursors)
      const bound = logBound(log, writer.nextSeq)
      if (compact) writer.compact(consumed, bound)
      else writer.collect(consumed, bound)
    } catch {
      // Tried again after the next appends, or by the next run.
    }
  }

  /**
   * Tell every best-effort receiver that these outputs are done, on the link itself: the marker
   * follows the last message sent there, so a receiver that sees it has everything that made it.
   * Resolves once every marker is in ZeroMQ's pipe (or, for a pipe that stayed full, after
   * {@link DIRECT_CLOSE_WAIT_MS}): the caller tells the supervisor only then, whose InputClosed
   * makes the receiver wait for this marker.
   */
  async close(outputs: readonly string[]): Promise<void> {
    const sent: Promise<void>[] = []
    for (const output of outputs) {
      // A reliable link's close is an entry of its log, after its last message: durable, so
      // no marker on the socket and no wait (the receiver reads the log to its end when the
      // supervisor's InputClosed comes).
      const log = this.#logs.get(output)
      if (log !== undefined) {
        try {
          log.writer ??= LinkLogWriter.open(log.dir)
          this.#appendMakingRoom(log, log.writer, encodeNodeToNode({ type: 'link-closed', dataflowId: this.#dataflowId }), new Uint8Array(0))
          log.closes++
        } catch (err) {
          // The supervisor's InputClosed still ends the input after what the log holds.
          process.stderr.write(`dora-ts: node "${this.#nodeId}" could not write the close of output "${output}" into its link log: ${errorMessage(err)}\n`)
        }
      }
      for (const { route, socket } of this.#links.get(output) ?? []) {
        if (!hasLinkLog(route)) sent.push(sendClose(socket, encodeNodeToNode({ type: 'input-closed', id: route.inputId })))
      }
    }
    await Promise.all(sent)
  }

  /**
   * Close the sockets; `now`: drop what ZeroMQ holds, else let it try for {@link DIRECT_LINGER_MS}
   * ({@link DIRECT_STOP_LINGER_MS} when `stopping`: the dataflow is stopping).
   */
  release(now: boolean, stopping = false): void {
    for (const log of this.#logs.values()) {
      if (log.writer === undefined) continue
      this.#collect(log, true)
      log.writer.close()
      log.writer = undefined
    }
    for (const socket of this.#sockets) {
      if (socket.closed) continue
      socket.linger = now || !this.#lingering.has(socket) ? 0 : stopping ? DIRECT_STOP_LINGER_MS : DIRECT_LINGER_MS
      socket.close()
    }
    // Free files no one will take back now. (One a receiver frees later waits for that
    // receiver's end, or the run's, like any file of a gone writer.)
    this.#pool?.drain()
  }

  /** Whether a payload of `bytes` goes through a shared-memory file (else on the socket). */
  #wouldShare(bytes: number): boolean {
    return this.#shmThreshold !== 0 && bytes >= this.#shmThreshold && this.#shmFallback.usable
  }

  /**
   * Write a large payload once, with one name per receiver (hard links), named after the
   * receiver so its process end sweeps what it never read: into a file its receivers freed
   * (the last to read it renames its name to `.free`, see releaseSegment), else a new one.
   * Undefined: send it on the socket.
   */
  #share(data: Uint8Array, links: readonly Link[]): SharedPayload[] | undefined {
    if (!this.#wouldShare(data.byteLength)) return undefined
    const n = ++this.#segments
    const names = links.map((l, i) => `${l.route.receiverNode}@${this.#prefix}${n}.${i}`)
    try {
      this.#pool ??= new SegmentPool(this.#shmDir)
      this.#pool.write(names[0]!, data)
      for (let i = 1; i < names.length; i++) linkSync(join(this.#shmDir, names[0]!), join(this.#shmDir, names[i]!))
      this.#pool.written(names)
      this.#shmFallback.succeeded()
    } catch (err) {
      for (const name of names) unlinkQuietly(join(this.#shmDir, name))
      this.#shmFallback.failed(err)
      return undefined
    }
    return names.map((segment) => ({ segment, offset: 0, length: data.byteLength }))
  }
}

/**
 * Put a close marker on a link, trying again while its pipe is full (a send never waits: the
 * socket's sendTimeout is 0, and a waiting send would make the node's next send throw EBUSY).
 */
async function sendClose(socket: Push, frame: Uint8Array): Promise<void> {
  const until = performance.now() + DIRECT_CLOSE_WAIT_MS
  for (;;) {
    try {
      await socket.send([frame])
      return
    } catch {
      if (socket.closed || performance.now() >= until) return
    }
    await sleep(CLOSE_RETRY_MS, undefined, { ref: false })
  }
}
