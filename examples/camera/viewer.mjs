// A viewer: takes the newest frame, checks it, prints one line per 10 frames and ends after
// --limit frames. It reports how many frames it skipped (frames dropped for newer ones).
import { Node } from 'dora-ts'

const limitIndex = process.argv.indexOf('--limit')
const limit = limitIndex > 0 ? Number(process.argv[limitIndex + 1]) : Infinity
const node = await Node.connect()
let seen = 0
let last = 0
let skipped = 0
for await (const event of node.events()) {
  if (event.type !== 'input') continue
  const frame = Buffer.from(event.data.buffer, event.data.byteOffset, event.data.byteLength)
  const n = frame.readUInt32LE(0)
  const { width, height } = event.metadata.parameters
  if (frame.byteLength !== width * height * 3 || frame[frame.byteLength - 1] !== (n & 255)) throw new Error(`frame ${n} is damaged`)
  skipped += last === 0 ? 0 : n - last - 1
  last = n
  seen++
  if (seen % 10 === 0) console.log(`frame ${n}: ${width}x${height}, ${seen} shown, ${skipped} skipped`)
  if (seen >= limit) break
}
console.log(`viewer done: ${seen} frames shown, ${skipped} skipped for newer ones`)
await node.close()
