/**
 * The open-file limit: which errors say a process is out of descriptors, the limit and the
 * count read from /proc, and the budget a run is held to before it starts. The runs and the
 * CLI under a real low `ulimit -n` are test/e2e/fd-limit.test.ts.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { closeSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { DoraError } from '../src/errors.js'
import { asFdLimitError, fdsNeeded, FdLimitError, isOutOfFds, openFdCount, openFileLimit } from '../src/fd-limit.js'
import { parseDataflow } from '../src/spec/load.js'
import { checkFdBudget } from '../runtime/supervisor/fd-budget.js'

t.test('EMFILE and ENFILE say a process is out of descriptors, as a code or in a message; nothing else does', async (t) => {
  const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: something`), { code })
  t.ok(isOutOfFds(err('EMFILE')))
  t.ok(isOutOfFds(err('ENFILE')))
  t.ok(isOutOfFds('could not start ./node.sh: spawn /bin/sh EMFILE'), "a unit's failure text")
  t.ok(isOutOfFds(new Error('Worker initialization failure: EMFILE')), "a worker's, which has no code")
  t.notOk(isOutOfFds(err('ENOENT')))
  t.notOk(isOutOfFds('EMFILES are not a thing'))
  t.notOk(isOutOfFds(undefined))
})

t.test('the limit is the one a shell started from this process reports; the count follows what is opened', async (t) => {
  if (process.platform !== 'linux') return void t.skip('reads /proc/self: Linux only', () => {})
  const shell = Number(execFileSync('/bin/sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim())
  t.equal(openFileLimit(), shell)
  const before = openFdCount()!
  const fds = [openSync('/dev/null', 'r'), openSync('/dev/null', 'r')]
  t.equal(openFdCount(), before + 2, 'two more after opening two files')
  fds.forEach((fd) => closeSync(fd))
  t.equal(openFdCount(), before)
})

t.test('an error out of descriptors becomes DORA_FD_LIMIT with what to do; others pass unchanged', async (t) => {
  const emfile = Object.assign(new Error("EMFILE: too many open files, open '/x/y.js'"), { code: 'EMFILE' })
  const wrapped = asFdLimitError(emfile)
  t.ok(wrapped instanceof FdLimitError)
  t.equal((wrapped as FdLimitError).code, 'DORA_FD_LIMIT')
  t.match((wrapped as FdLimitError).message, /^dora-ts ran out of file descriptors.*: EMFILE: too many open files, open '\/x\/y\.js'$/)
  t.match((wrapped as FdLimitError).hint, /ulimit -n 65536.*LimitNOFILE=65536.*--ulimit nofile=/)
  const other = new Error('ENOENT')
  t.equal(asFdLimitError(other), other)
  const dora = new FdLimitError('already one')
  t.equal(asFdLimitError(dora), dora, 'a DoraError is never wrapped again')
  t.ok(dora instanceof DoraError)
})

t.test('a run whose units would need more descriptors than the limit is refused before it starts, naming them', async (t) => {
  const dir = t.testdir({ 'a.mjs': '', 'b.mjs': '', 'c.mjs': '', 'one.mjs': '', 'two.mjs': '' })
  const spec = parseDataflow(
    `nodes:
  - id: a
    path: ./a.mjs
  - id: b
    path: ./b.mjs
  - id: c
    path: ./c.mjs
  - id: ops
    operators:
      - id: one
        javascript: ./one.mjs
      - id: two
        javascript: ./two.mjs
`,
    join(dir, 'dataflow.yml'),
  )
  const needed = fdsNeeded(3, 2, 40)
  t.ok(needed > 40 + 3 + 2, 'each unit costs more than one descriptor')
  t.doesNotThrow(() => checkFdBudget(spec, needed, 40), 'at the limit: it starts')
  t.doesNotThrow(() => checkFdBudget(spec, undefined, 40), 'an unknown limit refuses nothing')
  let refused: unknown
  try {
    checkFdBudget(spec, needed - 1, 40)
  } catch (err) {
    refused = err
  }
  t.ok(refused instanceof FdLimitError, 'one below it: refused')
  t.match((refused as FdLimitError).message, `dataflow "dataflow" was not started: its 3 custom node(s) and 2 operator(s) need about ${needed} open files`)
  t.match((refused as FdLimitError).message, `(40 in use already), and it may have ${needed - 1} (\`ulimit -n\`)`)
  t.match((refused as FdLimitError).hint, /ulimit -n/)
  t.ok(fdsNeeded(3, 2, 100) - fdsNeeded(3, 2, 40) === 60, 'what is in use already counts in full (a supervisor with other runs)')
})
