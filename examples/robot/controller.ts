/**
 * Controller (custom node): turns the nearest obstacle distance into a drive command and
 * prints each decision, at a human pace.
 */
import { Node, decodeJson } from 'dora-ts'

interface Nearest {
  distance: number
  beam: number
  /** Scans the filter has processed since its state was first created. */
  processed: number
  redelivered: boolean
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
    const notes = [command === last ? '' : '(changed)', nearest.redelivered ? '(after a filter crash)' : ''].filter(Boolean).join(' ')
    console.log(`scan ${nearest.processed}: obstacle ${nearest.distance.toFixed(2)} m at beam ${nearest.beam} -> ${command} ${notes}`.trimEnd())
    last = command
    await node.sendJson('command', { command, distance: nearest.distance })
  } else if (event.type === 'node-restarted') {
    console.log(`${event.nodeId} was restarted; carrying on`)
  } else if (event.type === 'stop') {
    console.log(`stopping (${event.cause}); last command was ${last ?? 'none'}`)
  }
}
await node.close()
