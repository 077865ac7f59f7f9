// The codec reads and writes fields at the positions in src/protocol/layout.ts. This test asks
// the Cap'n Proto compiler where the schemas put them (`capnp compile -ocapnp` prints each
// struct's size and each field's position) and requires the table to match exactly.

import t from 'tap'
import { LAYOUT, type DataField, type PointerField, type StructLayout } from '../../src/protocol/layout.js'
import { capnpLayout, haveCapnp } from './fixtures/capnp-tool.js'

interface Parsed {
  bytes: number
  ptrs: number
  tagBits?: number
  fields: Record<string, PointerField | DataField>
}

/** Parse `capnp compile -ocapnp` output into the same shape as LAYOUT. */
function parseLayout(text: string): Record<string, Parsed> {
  const structs: Record<string, Parsed> = {}
  // Scope stack: struct names (with their Parsed), or null for groups, unions and enums.
  const stack: Array<{ name: string; struct: Parsed | null }> = []
  const currentStruct = (): Parsed | undefined => [...stack].reverse().find((s) => s.struct !== null)?.struct ?? undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    let m = /^struct (\w+) @0x[0-9a-f]+ \{\s*# (\d+) bytes, (\d+) ptrs/.exec(line)
    if (m !== null) {
      const scope = stack.filter((s) => s.struct !== null).map((s) => s.name)
      const name = [...scope, m[1] as string].join('.')
      const struct: Parsed = { bytes: Number(m[2]), ptrs: Number(m[3]), fields: {} }
      structs[name] = struct
      stack.push({ name: m[1] as string, struct })
      continue
    }
    m = /^union \{\s*# tag bits \[(\d+), (\d+)\)/.exec(line)
    if (m !== null) {
      const s = currentStruct()
      if (s === undefined) throw new Error(`union outside a struct: ${line}`)
      if (s.tagBits !== undefined) throw new Error('two unions in one struct: extend LAYOUT and this parser')
      s.tagBits = Number(m[1])
      stack.push({ name: 'union', struct: null })
      continue
    }
    if (/^(enum \w+|\w+ :group) .*\{$/.test(line) || /^\w+ :group \{/.test(line)) {
      stack.push({ name: 'scope', struct: null })
      continue
    }
    if (line === '}') {
      stack.pop()
      continue
    }
    m = /^(\w+) @\d+ :.*;\s*# (?:ptr\[(\d+)\]|bits\[(\d+), (\d+)\))(?:, union tag = (\d+))?$/.exec(line)
    if (m !== null) {
      const s = currentStruct()
      if (s === undefined) throw new Error(`field outside a struct: ${line}`)
      const name = m[1] as string
      if (name in s.fields) throw new Error(`duplicate field name ${name} (group members are flattened)`)
      const tag = m[5] === undefined ? {} : { tag: Number(m[5]) }
      s.fields[name] =
        m[2] !== undefined ? { ptr: Number(m[2]), ...tag } : { bits: Number(m[3]), width: Number(m[4]) - Number(m[3]), ...tag }
    }
  }
  return structs
}

if (haveCapnp(t)) {
  t.test('LAYOUT matches the positions the Cap\'n Proto compiler assigns', async (t) => {
    const r = capnpLayout(['common.capnp', 'node-to-supervisor.capnp', 'supervisor-to-node.capnp'])
    t.equal(r.status, 0, r.stderr)
    const parsed = parseLayout(r.text)
    t.ok(Object.keys(parsed).length >= 15, `parsed ${Object.keys(parsed).length} structs`)
    t.strictSame(JSON.parse(JSON.stringify(LAYOUT)) as Record<string, StructLayout>, parsed)
  })
}
