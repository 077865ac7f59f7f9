// The control plane codec: round trips, the compiler's field layout, the reference tool in both
// directions, and garbage that must be a ProtocolError.
import t from 'tap'
import { CONTROL_LAYOUT, decodeControlReply, decodeControlRequest, encodeControlReply, encodeControlRequest } from '../../../src/protocol/control/codec.js'
import { ProtocolError } from '../../../src/protocol/errors.js'
import { capnpDecode, capnpEncode, capnpLayout, haveCapnp } from '../fixtures/capnp-tool.js'
import { parseLayout } from '../fixtures/layout-parser.js'

t.test('requests and replies round-trip', async (t) => {
  const req = { id: 2n ** 64n - 1n, command: 'start', body: JSON.stringify({ file: '/tmp/ünïcode.yml', graceMs: 10 }) }
  t.same(decodeControlRequest(encodeControlRequest(req)), req)
  t.same(decodeControlReply(encodeControlReply({ id: 7n, type: 'ok', body: '{"a":1}' })), { id: 7n, type: 'ok', body: '{"a":1}' })
  const error = { id: 8n, type: 'error' as const, code: 'DORA_DAEMON_UNKNOWN_DATAFLOW', message: 'no dataflow "x"', hint: '' }
  t.same(decodeControlReply(encodeControlReply(error)), error)
})

t.test('random and truncated frames are ProtocolErrors, never anything else', async (t) => {
  let seed = 7
  const random = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
  const valid = encodeControlRequest({ id: 1n, command: 'list', body: '{}' })
  for (let i = 0; i < 2000; i++) {
    const bytes =
      i % 2 === 0
        ? Uint8Array.from({ length: Math.floor(random() * 80) }, () => Math.floor(random() * 256))
        : valid.slice(0, Math.floor(random() * valid.length))
    for (const decode of [decodeControlRequest, decodeControlReply]) {
      try {
        decode(bytes)
      } catch (err) {
        if (!(err instanceof ProtocolError)) t.fail(`frame ${i} threw ${String(err)}`)
      }
    }
  }
  t.pass('2000 frames decoded or rejected cleanly')
})

if (haveCapnp(t)) {
  t.test('CONTROL_LAYOUT matches the compiler', async (t) => {
    const r = capnpLayout(['control.capnp'])
    t.equal(r.status, 0, r.stderr)
    t.strictSame(JSON.parse(JSON.stringify(CONTROL_LAYOUT)), parseLayout(r.text))
  })

  t.test('the reference tool reads our frames and we read its', async (t) => {
    const ours = capnpDecode('control.capnp', 'ControlRequest', encodeControlRequest({ id: 42n, command: 'ping', body: '{}' }))
    t.equal(ours.status, 0, ours.stderr)
    t.match(ours.text, /id = 42/)
    t.match(ours.text, /command = "ping"/)
    const theirs = capnpEncode('control.capnp', 'ControlReply', '(id = 9, error = (code = "DORA_X", message = "m", hint = "h"))')
    t.equal(theirs.status, 0, theirs.stderr)
    t.same(decodeControlReply(theirs.bytes), { id: 9n, type: 'error', code: 'DORA_X', message: 'm', hint: 'h' })
  })
}
