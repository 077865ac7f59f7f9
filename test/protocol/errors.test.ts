import t from 'tap'
import { DoraError, deserializeError, serializeError } from '../../src/errors.js'
import { ProtocolEncodeError, ProtocolError } from '../../src/protocol/errors.js'

t.test('ProtocolError has the stable decode code and a hint', async (t) => {
  const err = new ProtocolError('bad frame')
  t.equal(err.code, 'DORA_PROTOCOL_DECODE')
  t.equal(err.name, 'ProtocolError')
  t.type(err.hint, 'string')
  t.ok(err instanceof DoraError)
  t.notOk(err instanceof ProtocolEncodeError)
})

t.test('ProtocolEncodeError has the stable encode code', async (t) => {
  const err = new ProtocolEncodeError('bad value', { hint: 'fix it' })
  t.equal(err.code, 'DORA_PROTOCOL_ENCODE')
  t.equal(err.hint, 'fix it')
  t.ok(err instanceof DoraError)
  t.notOk(err instanceof ProtocolError)
})

t.test('both survive serialization as their own class, with their cause', async (t) => {
  for (const err of [new ProtocolError('decode', { cause: new RangeError('r') }), new ProtocolEncodeError('encode')]) {
    const back = deserializeError(JSON.parse(JSON.stringify(serializeError(err))))
    t.equal(back.constructor, err.constructor)
    t.equal((back as DoraError).code, err.code)
    t.equal(back.message, err.message)
  }
  const back = deserializeError(serializeError(new ProtocolError('x', { cause: new RangeError('r') })))
  t.equal((back.cause as Error).message, 'r')
})
