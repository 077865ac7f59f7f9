/**
 * The schema of the `tap` request (`dora-ts topic echo`, `hz`) and the `topic-pub` request: their fields
 * are checked before the daemon uses them (runtime/daemon/requests.ts).
 */
import t from 'tap'
import { checkDaemonRequest } from '../../../runtime/daemon/requests.js'
import { BadControlRequestError } from '../../../runtime/daemon/errors.js'

t.test('a tap request names 1 to 256 topics, each a string, and a whole number of preview bytes', async (t) => {
  t.same(checkDaemonRequest('tap', { topics: ['camera/image'], previewBytes: 1024 }), { topics: ['camera/image'], previewBytes: 1024 })
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /lacks its "topics" field/],
    [{ topics: 'camera/image' }, /"topics" field of the "tap" request must be a list of 1 to 256 strings/],
    [{ topics: [] }, /must be a list of 1 to 256 strings/],
    [{ topics: Array.from({ length: 257 }, (_, i) => `n/o${i}`) }, /must be a list of 1 to 256 strings/],
    [{ topics: ['a/b', 7] }, /"topics" field of the "tap" request has an item that must be a string/],
    [{ topics: ['a/b\0'] }, /has an item that contains a NUL character/],
    [{ topics: ['a/b'], previewBytes: -1 }, /"previewBytes" field of the "tap" request must be a whole number/],
    [{ topics: ['a/b'], previewBytes: 1.5 }, /must be a whole number/],
  ]
  for (const [body, message] of refused) {
    t.throws(() => checkDaemonRequest('tap', body), { constructor: BadControlRequestError, message }, JSON.stringify(body).slice(0, 60))
  }
  t.throws(() => checkDaemonRequest('tap-read', {}), { message: /lacks its "tap" field/ })
})

t.test('a topic-pub request carries its payload in base64, at most 32 KiB of it', async (t) => {
  const body = { topic: 'planner/goal', data: Buffer.from('{"x":1}').toString('base64'), encoding: 'json' }
  t.same(checkDaemonRequest('topic-pub', body), body)
  const full = Buffer.alloc(32 * 1024, 1).toString('base64')
  t.same(checkDaemonRequest('topic-pub', { ...body, data: full }).data, full, '32 KiB')
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...body, data: undefined }, /lacks its "data" field/],
    [{ ...body, data: 'not base64!' }, /"data" field of the "topic-pub" request must be bytes in base64/],
    [{ ...body, data: 42 }, /must be bytes in base64/],
    [{ ...body, data: Buffer.alloc(32 * 1024 + 3, 1).toString('base64') }, /"data" field of the "topic-pub" request holds more than 32768 bytes/],
    [{ ...body, encoding: undefined }, /lacks its "encoding" field/],
  ]
  for (const [input, message] of refused) {
    t.throws(() => checkDaemonRequest('topic-pub', input), { constructor: BadControlRequestError, message }, JSON.stringify(input).slice(0, 60))
  }
})
