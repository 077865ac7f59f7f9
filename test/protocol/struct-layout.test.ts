// The codec reads and writes fields at the positions in src/protocol/struct-layout.ts. This test asks
// the Cap'n Proto compiler where the schemas put them (`capnp compile -ocapnp` prints each
// struct's size and each field's position) and requires the table to match exactly.

import t from 'tap'
import { LAYOUT, type StructLayout } from '../../src/protocol/struct-layout.js'
import { parseLayout } from './fixtures/layout-parser.js'
import { capnpLayout, haveCapnp } from './fixtures/capnp-tool.js'

if (haveCapnp(t)) {
  t.test("LAYOUT matches the positions the Cap'n Proto compiler assigns", async (t) => {
    const r = capnpLayout(['common.capnp', 'node-to-supervisor.capnp', 'supervisor-to-node.capnp', 'node-to-node.capnp'])
    t.equal(r.status, 0, r.stderr)
    const parsed = parseLayout(r.text)
    t.ok(Object.keys(parsed).length >= 15, `parsed ${Object.keys(parsed).length} structs`)
    t.strictSame(JSON.parse(JSON.stringify(LAYOUT)) as Record<string, StructLayout>, parsed)
  })
}
