#!/usr/bin/env node
// Prints where the detector found the target (every 10th frame), counts the camera's frames the
// detector never saw (dropped for a newer one, or lost with a crash), and ends after --limit
// findings (then exit_when_nodes_finish stops the dataflow).
import { Node, decodeJson } from 'dora-ts'

const at = process.argv.indexOf('--limit')
const limit = at === -1 ? Infinity : Number(process.argv[at + 1])
const node = await Node.connect()
let shown = 0
let skipped = 0
let last = 0
for await (const event of node.events()) {
  if (event.type !== 'input') continue
  const target = decodeJson(event.data)
  // Older frames come first when the previous run left findings for this one (reliable input).
  if (last !== 0 && target.frame > last) skipped += target.frame - last - 1
  last = target.frame
  shown++
  if (shown % 10 === 0 || shown === 1) {
    console.log(target.found ? `frame ${target.frame}: target at x=${target.x} y=${target.y}` : `frame ${target.frame}: no target`)
  }
  if (shown >= limit) break
}
console.log(`monitor done: ${shown} frames seen by the detector, ${skipped} of the camera's frames not seen (dropped for newer ones or lost with a crash)`)
await node.close()
