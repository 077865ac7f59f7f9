// Wheel odometry: integrates a constant twist on every timer tick and sends the pose as JSON.
// Its messageId names the run (the first 8 characters of the dataflow id), this process's life
// and the pose's number, so a receiver can tell a repeat from a new pose, and a pose the last
// run sent and nobody consumed from one of this run.
import { Node } from 'dora-ts'

const node = await Node.connect()
let n = 0
let x = 0
let y = 0
let theta = 0
for await (const event of node.events()) {
  if (event.type !== 'input') continue
  n++
  theta += 0.005
  x += 0.01 * Math.cos(theta)
  y += 0.01 * Math.sin(theta)
  // Resolves once the pose is in the link log: from here it survives any kill.
  await node.sendJson('pose', { n, x, y, theta }, { messageId: `${node.dataflowId.slice(0, 8)}.${node.restartCount}.${n}` })
}
await node.close()
