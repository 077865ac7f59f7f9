// A plain-JavaScript custom node: prints what arrives and ends after --limit values.
import { Node, decodeJson } from 'dora-ts'

const limitIndex = process.argv.indexOf('--limit')
const limit = limitIndex > 0 ? Number(process.argv[limitIndex + 1]) : Infinity
const node = await Node.connect()
let seen = 0
for await (const event of node.events()) {
  if (event.type !== 'input') continue
  seen++
  console.log(`${event.id} = ${decodeJson(event.data)} (from ${event.metadata.senderNode}/${event.metadata.senderOperator}, #${seen})`)
  if (seen >= limit) break
}
await node.close()
