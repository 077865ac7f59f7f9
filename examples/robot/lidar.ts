/**
 * A simulated 2-D lidar (custom node): on every tick it publishes one scan, 16 ranges in
 * metres as a Float32Array, with an obstacle that drifts towards the robot and away again.
 */
import { Node, typedArrayBytes, Encoding } from 'dora-ts'

const noise = Number(process.env['NOISE'] ?? '0.05')
const beams = 16
const node = await Node.connect()
let step = 0

for await (const event of node.events()) {
  if (event.type !== 'input') continue
  step++
  // The obstacle sits in front of beam 4 and breathes between 0.3 m and 3.3 m.
  const obstacle = 1.8 + 1.5 * Math.sin(step / 6)
  const ranges = new Float32Array(beams)
  for (let i = 0; i < beams; i++) {
    const base = i === 4 || i === 5 ? obstacle : 5 + (i % 3)
    ranges[i] = Math.max(0.05, base + (Math.random() - 0.5) * noise)
  }
  await node.send('scan', typedArrayBytes(ranges), { encoding: Encoding.f32, parameters: { beams, step } })
}
await node.close()
