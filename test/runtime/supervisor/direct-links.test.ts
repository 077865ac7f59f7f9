/**
 * Which inputs of custom nodes go straight from their sender (runtime/supervisor/direct-links.ts):
 * reliable inputs between two nodes run by node use a link log unless the dataflow opts out;
 * the rest keep the supervisor's path. Parsed from real YAML, so the resolver's view of each
 * node (its runtime, its inputs) is what is decided on.
 */
import t from 'tap'
import { isDirectInput, usesLinkLog } from '../../../runtime/supervisor/direct-links.js'
import type { CustomNodeSpec, DataflowSpec, InputSpec } from '../../../src/spec/types.js'
import { parseOk } from '../../spec/fixtures/expect.js'

/** Custom node `nodeId` of `spec` and its input `inputId`, as the supervisor asks about them. */
function inputOf(spec: DataflowSpec, nodeId: string, inputId: string): [DataflowSpec, CustomNodeSpec, InputSpec] {
  const node = spec.nodes.find((n): n is CustomNodeSpec => n.kind === 'custom' && n.id === nodeId)
  const input = node?.inputs.find((i) => i.id === inputId)
  if (node === undefined || input === undefined) throw new Error(`no input ${nodeId}/${inputId}`)
  return [spec, node, input]
}

const nodes = `nodes:
  - id: src
    path: ./src.ts
    outputs: [n]
  - id: py
    path: ./src.py
    outputs: [n]
  - id: sink
    path: ./sink.mjs
    inputs:
      plain: src/n
      from_py: py/n
      pressed: { source: src/n, queue_policy: backpressure }
      timed: { source: src/n, input_timeout: 2 }
      lossy: { source: src/n, reliability: best_effort }
  - id: pysink
    path: ./sink.py
    inputs:
      plain: src/n
`

t.test('by default a reliable input between two nodes run by node goes through a link log; the rest keep the supervisor', async (t) => {
  const spec = parseOk(nodes)
  t.equal(usesLinkLog(...inputOf(spec, 'sink', 'plain')), true, 'src.ts -> sink.mjs')
  t.equal(usesLinkLog(...inputOf(spec, 'sink', 'from_py')), false, 'a Python sender has no SDK to append to a log')
  t.equal(usesLinkLog(...inputOf(spec, 'pysink', 'plain')), false, 'a Python receiver has no SDK to keep a cursor')
  t.equal(usesLinkLog(...inputOf(spec, 'sink', 'pressed')), false, 'backpressure needs the supervisor')
  t.equal(usesLinkLog(...inputOf(spec, 'sink', 'timed')), false, 'input_timeout needs the supervisor')
  t.equal(usesLinkLog(...inputOf(spec, 'sink', 'lossy')), false, 'best effort is a link without a log')
  t.equal(isDirectInput(...inputOf(spec, 'sink', 'lossy')), true)
  t.equal(isDirectInput(...inputOf(spec, 'sink', 'plain')), true)
  t.equal(isDirectInput(...inputOf(spec, 'sink', 'pressed')), false)
})

t.test('_unstable_direct_links: false and durability: power keep every reliable input on the supervisor; true keeps the default', async (t) => {
  const off = parseOk(`_unstable_direct_links: false\n${nodes}`)
  t.equal(usesLinkLog(...inputOf(off, 'sink', 'plain')), false)
  t.equal(isDirectInput(...inputOf(off, 'sink', 'lossy')), true, 'best effort stays direct: it never had a supervisor path')
  const power = parseOk(`durability: power\n${nodes}`)
  t.equal(usesLinkLog(...inputOf(power, 'sink', 'plain')), false, 'the log is not fsync-ed')
  const on = parseOk(`_unstable_direct_links: true\n${nodes}`)
  t.equal(usesLinkLog(...inputOf(on, 'sink', 'plain')), true)
  t.equal(usesLinkLog(...inputOf(on, 'sink', 'from_py')), false)
})
