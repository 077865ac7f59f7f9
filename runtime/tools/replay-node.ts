/**
 * The node `dora-ts replay` puts in place of a recorded node (runtime/cli/replay.ts): a custom
 * node with the recorded node's id and outputs, sending on them what the recording holds of
 * its topics, at the pace they were recorded (times `--speed`; 0: as fast as receivers take
 * them), then ending, so its receivers see their inputs close as after the live node.
 *
 * Every replay node of a run paces itself from the recording's first message, so the nodes it
 * stands in for keep their order and spacing relative to one another. Payloads, encodings and
 * metadata are sent as recorded; message ids are new (the receivers' deduplication must not
 * take a replay for what the live run delivered).
 *
 * Environment: DORA_TS_REPLAY_FILE, DORA_TS_REPLAY_NODE (the node it stands in for),
 * DORA_TS_REPLAY_SPEED (a number, 0 for as fast as possible), DORA_TS_REPLAY_LOOP (`1`: again
 * from the start at the end, until Stop).
 *
 * @module
 */
import { Node } from '../../node-sdk/index.js'
import { RecordingReader } from '../../src/recording/format.js'

const file = process.env['DORA_TS_REPLAY_FILE'] ?? ''
const nodeId = process.env['DORA_TS_REPLAY_NODE'] ?? ''
const speed = Number(process.env['DORA_TS_REPLAY_SPEED'] ?? '1')
const loop = process.env['DORA_TS_REPLAY_LOOP'] === '1'
const prefix = `${nodeId}/`

const node = await Node.connect()
let stopped = false
let wake: (() => void) | undefined
// A node with no inputs still gets Stop: watch for it while sending.
void (async () => {
  for await (const event of node.events()) {
    if (event.type === 'stop') {
      stopped = true
      wake?.()
    }
  }
})()

/** Wait `ms`, or less when Stop comes. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      wake = undefined
      resolve()
    }
    wake = done
  })
}

let sent = 0
let pass = 0
do {
  pass++
  const reader = RecordingReader.open(file)
  try {
    let first: bigint | undefined
    const start = performance.now()
    for (const message of reader.messages()) {
      if (stopped) break
      first ??= message.timestampNs
      if (!message.topic.startsWith(prefix)) continue
      if (speed > 0) {
        const due = start + Number(message.timestampNs - first) / 1e6 / speed
        const wait = due - performance.now()
        if (wait > 1) await sleep(wait)
        if (stopped) break
      }
      await node.send(message.topic.slice(prefix.length), message.payload, { encoding: message.encoding, parameters: message.metadata })
      sent++
    }
    if (reader.tornBytes > 0 && pass === 1 && !stopped) {
      console.log(
        `the recording's last ${reader.tornBytes} byte(s) are no whole message (its recorder was killed mid-write, or the file is damaged there); replayed what came before`,
      )
    }
  } finally {
    reader.close()
  }
} while (loop && !stopped)
console.log(`replayed ${sent} message(s) of ${nodeId}${loop ? ` in ${pass} pass(es)` : ''}`)
await node.close()
