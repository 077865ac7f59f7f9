// Records poses, and keeps what it recorded in the KVS (`odometry/<run>`), so that a recorder
// killed mid-run (`dora-ts kill odometry recorder`) and restarted knows where it was: a pose it
// had recorded and comes again (the one it held when it died, marked `redelivered`) is a
// repeat, and a pose missing in the sequence would be a gap (there is none: the link log
// keeps every pose the wheels' send() confirmed). Poses an earlier run sent and nobody
// consumed come first: counted apart. Prints one line per 100 poses and ends after --limit.
import { Node, decodeJson } from 'dora-ts'

const limitIndex = process.argv.indexOf('--limit')
const limit = limitIndex > 0 ? Number(process.argv[limitIndex + 1]) : Infinity
const node = await Node.connect()
const run = node.dataflowId.slice(0, 8)
const stateKey = `odometry/${run}`
const state = node.kvs.readJson(stateKey) ?? { recorded: 0, life: 0, n: 0, gaps: 0, repeats: 0, earlier: 0 }
if (node.isRestart) console.log(`recorder restarted (restart ${node.restartCount}) after pose ${state.n}, ${state.recorded} recorded`)
for await (const event of node.events()) {
  if (event.type !== 'input') continue
  const { messageId, redelivered } = event.metadata
  const [from, life, n] = messageId.split('.')
  if (from !== run) {
    state.earlier++
    continue
  }
  const at = { life: Number(life), n: Number(n) }
  if (at.life < state.life || (at.life === state.life && at.n <= state.n)) {
    state.repeats++
    node.kvs.writeJson(stateKey, state)
    continue
  }
  if (at.life === state.life && at.n !== state.n + 1) state.gaps++
  const pose = decodeJson(event.data)
  Object.assign(state, at, { recorded: state.recorded + 1 })
  node.kvs.writeJson(stateKey, state)
  if (state.recorded % 100 === 0) console.log(`pose ${pose.n}: x=${pose.x.toFixed(3)} y=${pose.y.toFixed(3)}${redelivered ? ' (redelivered)' : ''}`)
  if (state.recorded >= limit) break
}
console.log(
  `recorder done: ${state.recorded} poses of this run, ${state.gaps} gaps, ${state.repeats} repeats dropped, ${state.earlier} left over from an earlier run`,
)
await node.close()
