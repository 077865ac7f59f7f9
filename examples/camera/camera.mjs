// A fake camera: on every tick, an RGB frame (WIDTH x HEIGHT x 3 bytes, 900 KiB at 640x480)
// whose pixels encode the frame number, sent on `frame` with its size in the metadata.
import { Node } from 'dora-ts'

const width = Number(process.env.WIDTH ?? 640)
const height = Number(process.env.HEIGHT ?? 480)
const node = await Node.connect()
let n = 0
for await (const event of node.events()) {
  if (event.type !== 'input') continue
  n++
  const frame = Buffer.alloc(width * height * 3, n & 255)
  frame.writeUInt32LE(n, 0)
  // Best effort: resolves once ZeroMQ has it (a viewer that is not reading just misses it).
  await node.send('frame', frame, { parameters: { width, height, encoding: 'rgb8' } })
}
await node.close()
