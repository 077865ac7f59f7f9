/**
 * Controller (custom node): turns the nearest obstacle distance into a drive command and
 * prints each decision when it changes, at a human pace.
 */
import { Node, decodeJson } from 'dora-ts'

interface Nearest {
  distance: number
  beam: number
  scan: number
}

function decide(distance: number): 'forward' | 'slow' | 'stop' {
  if (distance < 0.8) return 'stop'
  if (distance < 1.8) return 'slow'
  return 'forward'
}

const node = await Node.connect()
let last: string | undefined
for await (const event of node.events()) {
  if (event.type === 'input') {
    const nearest = decodeJson<Nearest>(event.data)
    const command = decide(nearest.distance)
    console.log(`scan ${nearest.scan}: obstacle ${nearest.distance.toFixed(2)} m at beam ${nearest.beam} -> ${command}${command === last ? '' : '  (changed)'}`)
    last = command
    await node.sendJson('command', { command, distance: nearest.distance })
  } else if (event.type === 'stop') {
    console.log(`stopping (${event.cause}); last command was ${last ?? 'none'}`)
  }
}
await node.close()
