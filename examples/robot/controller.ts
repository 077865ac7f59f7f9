/**
 * Controller (custom node): turns the nearest obstacle distance into a drive command and
 * prints each decision, at a human pace.
 *
 * Its two thresholds are shared settings in the KVS (namespace "robot", see dataflow.yml), so
 * they can be tuned while the robot runs, from a shell or from another node:
 *
 *   npx dora-ts kvs put -n robot stop_distance 1.2
 *
 * It writes the defaults on first start (only where no value is set yet), watches the keys and
 * uses a new value from the next scan on.
 */
import { Node, decodeJson, decodeText, encodeText } from 'dora-ts'

interface Nearest {
  distance: number
  beam: number
  /** Scans the filter has processed since its state was first created. */
  processed: number
  redelivered: boolean
}

/** Thresholds in metres, by KVS key. */
const limits: Record<string, number> = { stop_distance: 0.8, slow_distance: 1.8 }

function decide(distance: number): 'forward' | 'slow' | 'stop' {
  if (distance < limits['stop_distance']!) return 'stop'
  if (distance < limits['slow_distance']!) return 'slow'
  return 'forward'
}

/** A setting as a positive number of metres, or undefined (with a note) when it is not one. */
function metres(key: string, bytes: Uint8Array): number | undefined {
  const value = Number(decodeText(bytes))
  if (Number.isFinite(value) && value > 0) return value
  console.log(`ignoring ${key} = ${JSON.stringify(decodeText(bytes))}: not a positive number of metres`)
  return undefined
}

const node = await Node.connect()
for (const [key, fallback] of Object.entries(limits)) {
  // Set the default unless someone already did (compareAndSet against "absent").
  node.kvs.compareAndSet(key, undefined, encodeText(String(fallback)))
  const stored = node.kvs.read(key)
  limits[key] = (stored === undefined ? undefined : metres(key, stored)) ?? fallback
}
console.log(`stop below ${limits['stop_distance']} m, slow below ${limits['slow_distance']} m (KVS namespace ${node.kvs.name})`)

// Changes made by anyone (the CLI, another node, an operator) arrive here within ~10 ms.
void (async () => {
  for await (const change of node.kvs.watch('')) {
    if (change.type !== 'put' || !(change.key in limits)) continue
    const value = metres(change.key, change.value)
    if (value === undefined) continue
    limits[change.key] = value
    console.log(`${change.key} is now ${value} m (set in the KVS)`)
  }
})()

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
