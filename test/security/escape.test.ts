/**
 * Hostile text never reaches the terminal raw (issue 13 points 5-7): ids with escape sequences
 * are shown escaped by check, binary YAML is refused, NUL in args is refused in check, and a
 * name that would traverse paths is refused.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { escapeForTerminal } from '../../src/security/escape.js'
import { checkName, nameFrom } from '../../src/security/names.js'
import { runCli } from '../e2e/fixtures/cli.js'

const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/ // eslint-disable-line no-control-regex

t.test('escapeForTerminal shows every control character, keeps newlines and (on request) colours', async (t) => {
  t.equal(escapeForTerminal('evil\x1b]0;PWNED\x07\x1b[2J'), 'evil\\x1b]0;PWNED\\x07\\x1b[2J')
  t.equal(escapeForTerminal('a\nb\tc\r\u009b\u202e'), 'a\nb\tc\\r\\x9b\\u202e')
  t.equal(escapeForTerminal('a\nb', { keepNewlines: false }), 'a\\nb')
  t.equal(escapeForTerminal('\x1b[31mred\x1b[0m\x1b]0;x\x07', { keepColors: true }), '\x1b[31mred\x1b[0m\\x1b]0;x\\x07')
})

t.test('names that name folders are identifiers', async (t) => {
  t.equal(checkName('robot-arm_2.v1', { what: 'x' }), 'robot-arm_2.v1')
  for (const bad of ['../../../../tmp/x', '..', '.hidden', 'a/b', 'a\x1bb', '', 'x'.repeat(129), '-rf']) {
    t.throws(() => checkName(bad, { what: '--name' }), { code: 'DORA_INVALID_NAME' }, JSON.stringify(bad.slice(0, 20)))
  }
  t.equal(nameFrom('my flow'), 'my-flow')
  t.equal(nameFrom('..'), 'dataflow')
})

t.test('check prints hostile ids escaped, refuses binary YAML, NUL args and traversing names', async (t) => {
  const dir = t.testdir({})
  const evil = join(dir, 'evil.yml')
  writeFileSync(evil, 'nodes:\n  - id: "evil\\e]0;PWNED\\a\\e[2J"\n    path: /bin/true\n    args: "\\u0000"\n')
  const r1 = await runCli(['check', evil])
  t.equal(r1.code, 1)
  t.notMatch(r1.stderr, RAW_CONTROL, 'no raw control character printed')
  t.match(r1.stderr, 'evil\\x1b]0;PWNED\\x07\\x1b[2J', 'the id is shown escaped')
  t.match(r1.stderr, /evil.yml:4:\d+: .*NUL character/, 'args: "\\u0000" is refused with its position')
  const bin = join(dir, 'bin.yml')
  writeFileSync(bin, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 0x1b, 0x5b, 0x32, 0x4a, 0xff, 0xfe]))
  const r2 = await runCli(['check', bin])
  t.equal(r2.code, 1)
  t.match(r2.stderr, 'this file is not text')
  t.notMatch(r2.stderr, RAW_CONTROL, 'the binary content is not echoed')
  const trav = join(dir, 'trav.yml')
  writeFileSync(trav, 'name: "../../../../escape-test"\nnodes:\n  - id: a\n    path: /bin/true\n')
  const r3 = await runCli(['check', trav])
  t.equal(r3.code, 1)
  t.match(r3.stderr, /the dataflow `name` "..\/..\/..\/..\/escape-test" must not start with "."/)
})
