// The capnp-es classes generated from the schemas (src/protocol/*.ts next to each .capnp) must be
// up to date, and must agree with our codec in both directions: a third, independent reading of
// the same wire contract.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import * as $ from 'capnp-es'
import { KeyValue_Value_Which } from './fixtures/generated/common.js'
import { decodeSupervisorToNode, encodeNodeToSupervisor } from '../../src/protocol/node/codec.js'
import { NodeToSupervisor, NodeToSupervisor_Which } from './fixtures/generated/node-to-supervisor.js'
import { SupervisorToNode } from './fixtures/generated/supervisor-to-node.js'
import { haveCapnp } from './fixtures/capnp-tool.js'
import { richHeader } from './fixtures/messages.js'
import { ROOT } from '../fixtures/paths.js'

if (haveCapnp(t)) {
  t.test('the committed generated code matches what the schemas generate (gen-capnp --check)', async (t) => {
    const r = spawnSync(process.execPath, ['scripts/gen-capnp.mjs', '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 })
    t.equal(r.status, 0, `node scripts/gen-capnp.mjs --check: ${r.stderr}${r.stdout}\nrun \`npm run gen:capnp\` and commit the result`)
  })
}

t.test('capnp-es reads every field of a frame our codec wrote', async (t) => {
  const frame = encodeNodeToSupervisor({ type: 'output', header: richHeader, sendSeq: 5n })
  const root = new $.Message(frame, false).getRoot(NodeToSupervisor)
  t.equal(root.which(), NodeToSupervisor_Which.OUTPUT)
  const h = root.output.header
  t.equal(h.dataflowId, richHeader.dataflowId)
  t.equal(h.senderNode, richHeader.senderNode)
  t.equal(h.senderOperator, richHeader.senderOperator)
  t.equal(h.outputId, richHeader.outputId)
  t.equal(h.sequence, richHeader.sequence)
  t.equal(h.timestampNs, richHeader.timestampNs)
  t.equal(h.encoding, richHeader.encoding)
  t.equal(h.messageId, richHeader.messageId)
  t.equal(h.redelivered, richHeader.redelivered)
  const entries = Object.entries(richHeader.metadata)
  t.equal(h.metadata.length, entries.length)
  entries.forEach(([key, value], i) => {
    const e = h.metadata.get(i)
    t.equal(e.key, key)
    const v = e.value
    switch (v.which()) {
      case KeyValue_Value_Which.TEXT:
        t.equal(v.text, value, key)
        break
      case KeyValue_Value_Which.FLOAT64:
        t.equal(v.float64, value, key)
        break
      case KeyValue_Value_Which.INT64:
        t.equal(v.int64, value, key)
        break
      case KeyValue_Value_Which.BOOL:
        t.equal(v.bool, value, key)
        break
      case KeyValue_Value_Which.DATA:
        t.strictSame(new Uint8Array(v.data.toUint8Array()), value, key)
        break
    }
  })
})

t.test('our codec reads a frame capnp-es wrote', async (t) => {
  const message = new $.Message()
  const root = message.initRoot(SupervisorToNode)
  const n = root._initNodeFailed()
  n.nodeId = 'camera'
  n.error = 'exit 1 ✗'
  const inputs = n._initAffectedInputs(2)
  inputs.set(0, 'image')
  inputs.set(1, 'depth')
  t.strictSame(decodeSupervisorToNode(new Uint8Array(message.toArrayBuffer())), {
    type: 'node-failed',
    nodeId: 'camera',
    error: 'exit 1 ✗',
    affectedInputs: ['image', 'depth'],
  })

  const m2 = new $.Message()
  const input = m2.initRoot(SupervisorToNode)._initInput()
  input.inputId = 'in'
  const h = input._initHeader()
  h.senderNode = 'cam'
  h.sequence = (1n << 64n) - 1n
  h.redelivered = true
  const md = h._initMetadata(2)
  md.get(0).key = 'k'
  md.get(0).value.int64 = -5n
  md.get(1).key = 'd'
  md.get(1).value._initData(2).toUint8Array().set([9, 8])
  t.strictSame(decodeSupervisorToNode(new Uint8Array(m2.toArrayBuffer())), {
    type: 'input',
    id: 'in',
    header: {
      dataflowId: '',
      senderNode: 'cam',
      senderOperator: '',
      outputId: '',
      sequence: (1n << 64n) - 1n,
      timestampNs: 0n,
      metadata: { k: -5n, d: new Uint8Array([9, 8]) },
      encoding: '',
      messageId: '',
      redelivered: true,
    },
  })
})
