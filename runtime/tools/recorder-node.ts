/**
 * The node `dora-ts record` adds to a dataflow (runtime/cli/record.ts): a custom node whose
 * inputs are the recorded topics, writing each message it is given into the recording
 * (src/recording/format.ts) until its inputs close or the dataflow stops.
 *
 * It is a receiver like any other, so the recording has the guarantee of a reliable input: a
 * message is consumed when the recorder asks for the next one, after it wrote it. Killed, it is
 * restarted (restart_policy on-failure), opens the file again (a torn last entry cut off) and
 * is given again what it held, marked redelivered; an id the file already has is not written
 * twice. A message its input queue dropped (the recorder fell behind), or a best-effort link
 * (recording-plan.ts takes sensor streams as their receivers do), is missing from the file,
 * and its summary says how many, per topic, from the gaps in their sequence numbers.
 *
 * Environment: DORA_TS_RECORD_FILE (the recording), DORA_TS_RECORD_TOPICS (JSON: input id ->
 * topic), DORA_TS_RECORD_HEADER (JSON: the header of a new recording).
 *
 * @module
 */
import { Node } from '../../node-sdk/index.js'
import { RecordingWriter, type RecordingHeader } from '../../src/recording/format.js'

const file = process.env['DORA_TS_RECORD_FILE'] ?? ''
const topics = JSON.parse(process.env['DORA_TS_RECORD_TOPICS'] ?? '{}') as Record<string, string>
const header = JSON.parse(process.env['DORA_TS_RECORD_HEADER'] ?? '{}') as RecordingHeader

const writer = RecordingWriter.open(file, header)
const node = await Node.connect()
/** Per topic: messages written, and those the sequence numbers say were never given (dropped by the input's queue). */
const written = new Map<string, number>()
const missed = new Map<string, bigint>()
const lastSequence = new Map<string, bigint>()
const recent = new Set(writer.recentIds)
try {
  for await (const event of node.events()) {
    if (event.type === 'stop') break
    if (event.type !== 'input') continue
    const topic = topics[event.id]
    if (topic === undefined) continue
    const { metadata } = event
    if (metadata.redelivered && metadata.messageId !== '' && recent.has(metadata.messageId)) continue
    writer.append({
      topic,
      sequence: metadata.sequence,
      timestampNs: metadata.timestampNs,
      encoding: metadata.encoding,
      messageId: metadata.messageId,
      metadata: metadata.parameters,
      payload: event.data,
    })
    if (metadata.messageId !== '') recent.add(metadata.messageId)
    written.set(topic, (written.get(topic) ?? 0) + 1)
    const last = lastSequence.get(topic)
    // A sender that restarted numbers from 1 again: no gap to count.
    if (last !== undefined && metadata.sequence > last + 1n) missed.set(topic, (missed.get(topic) ?? 0n) + metadata.sequence - last - 1n)
    lastSequence.set(topic, metadata.sequence)
  }
} finally {
  writer.close()
  const total = [...written.values()].reduce((a, b) => a + b, 0)
  const per = [...written].map(([topic, n]) => `${topic} ${n}`).join(', ')
  console.log(`recorded ${total} message(s) to ${file}${per === '' ? '' : ` (${per})`}; the file holds ${writer.entries}`)
  for (const [topic, n] of missed) {
    console.log(
      `${n} message(s) of ${topic} are not in the recording: dropped on their way to the recorder (it fell behind its input's queue, or they came on a best-effort link)`,
    )
  }
  await node.close()
}
