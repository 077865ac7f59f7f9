import t from 'tap'
import { join } from 'node:path'
import { DoraError, deserializeError, serializeError } from '../../src/errors.js'
import {
  createSpecError,
  displayPath,
  SPEC_ERROR_CODES,
  SpecBadTimerError,
  SpecError,
  SpecErrors,
  SpecUnknownSourceOutputError,
} from '../../src/spec/errors.js'

const file = join(process.cwd(), 'examples', 'dataflow.yml')

t.test('createSpecError names file, line, column and node in the message', async (t) => {
  const err = createSpecError(
    'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT',
    'input "scan" reads from "lidar/scann", but node "lidar" has no output "scann" (did you mean "scan"?)',
    { file, line: 12, column: 15, nodeId: 'obstacle-filter' },
    'add "scann" to the outputs of node "lidar"',
  )
  t.ok(err instanceof SpecUnknownSourceOutputError)
  t.ok(err instanceof SpecError)
  t.ok(err instanceof DoraError)
  t.equal(err.code, 'DORA_SPEC_UNKNOWN_SOURCE_OUTPUT')
  t.equal(err.name, 'SpecUnknownSourceOutputError')
  t.equal(
    err.message,
    'examples/dataflow.yml:12:15: node "obstacle-filter": input "scan" reads from "lidar/scann", but node "lidar" has no output "scann" (did you mean "scan"?)',
  )
  t.equal(err.file, file)
  t.equal(err.line, 12)
  t.equal(err.column, 15)
  t.equal(err.nodeId, 'obstacle-filter')
  t.equal(err.hint, 'add "scann" to the outputs of node "lidar"')
  t.equal(err.describe(), `${err.message}\n${err.hint}`, 'describe() is message and hint, no stack')
})

t.test('the operator is named after the node; whole-file problems have no line', async (t) => {
  const op = createSpecError('DORA_SPEC_BAD_TIMER', 'bad', { file, line: 3, column: 4, nodeId: 'p', operatorId: 'op1' })
  t.ok(op instanceof SpecBadTimerError)
  t.match(op.message, /dataflow\.yml:3:4: node "p" operator "op1": bad$/)
  t.equal(op.operatorId, 'op1')
  const whole = createSpecError('DORA_SPEC_FILE_NOT_FOUND', 'no such file', { file, line: 0, column: 0 })
  t.equal(whole.message, 'examples/dataflow.yml: no such file')
})

t.test('displayPath is relative inside the working directory, absolute outside', async (t) => {
  t.equal(displayPath(file), join('examples', 'dataflow.yml'))
  t.equal(displayPath('/somewhere/else.yml'), '/somewhere/else.yml')
  t.equal(displayPath(process.cwd()), process.cwd())
})

t.test('every code has its own registered class that survives serialization', async (t) => {
  const names = new Set<string>()
  for (const code of SPEC_ERROR_CODES) {
    const err = createSpecError(code, 'detail', { file: '/abs/dataflow.yml', line: 7, column: 9, nodeId: 'n' }, 'do this')
    t.equal(err.code, code)
    names.add(err.name)
    const back = deserializeError(JSON.parse(JSON.stringify(serializeError(err))))
    t.equal(back.name, err.name, `${code} rebuilt as its class`)
    t.ok(back instanceof SpecError, `${code} rebuilt is a SpecError`)
    const spec = back as SpecError
    t.equal(spec.code, code)
    t.equal(spec.hint, 'do this')
    t.same([spec.file, spec.line, spec.column], ['/abs/dataflow.yml', 7, 9], 'location carried as context')
  }
  t.equal(names.size, SPEC_ERROR_CODES.length, 'one class per code')
  const bare = deserializeError({ name: 'SpecBadTimerError', code: 'DORA_SPEC_BAD_TIMER', message: 'no location' }) as SpecError
  t.same([bare.file, bare.line, bare.column], ['', 0, 0])
})

t.test('SpecError instanceof goes by code, also for errors from another realm', async (t) => {
  const foreign = new DoraError('DORA_SPEC_BAD_TIMER', 'from a worker')
  t.ok(foreign instanceof SpecError)
  t.notOk(new DoraError('DORA_KVS_IO', 'x') instanceof SpecError)
  t.notOk(new SpecErrors([]) instanceof SpecError)
  t.notOk(new Error('x') instanceof SpecError)
  t.notOk(createSpecError('DORA_SPEC_BAD_TIMER', 'x', { file, line: 1, column: 1 }) instanceof SpecUnknownSourceOutputError)
})

t.test('SpecErrors lists every problem on its own line, sorted, with hints in describe()', async (t) => {
  const late = createSpecError('DORA_SPEC_UNKNOWN_KEY', 'unknown node key `pth`', { file, line: 9, column: 5, nodeId: 'b' }, 'node keys are: path')
  const early = createSpecError('DORA_SPEC_MISSING_KEY', 'the dataflow has no `nodes:` list', { file, line: 2, column: 1 })
  const errs = new SpecErrors([late, early])
  t.ok(errs instanceof DoraError)
  t.equal(errs.code, 'DORA_SPEC_INVALID')
  t.same(errs.errors, [early, late])
  const lines = errs.message.split('\n')
  t.equal(lines[0], 'examples/dataflow.yml: invalid dataflow, 2 problems:')
  t.equal(lines[1], `  ${early.message}`)
  t.equal(lines[2], `  ${late.message}`)
  t.match(errs.hint, /dora-ts check/)
  t.equal(errs.describe(), [lines[0], `  ${early.message}`, `  ${late.message}`, '    hint: node keys are: path'].join('\n'))
  t.match(new SpecErrors([early]).message, /1 problem:/)
  const two = new SpecErrors([early, createSpecError('DORA_SPEC_MISSING_KEY', 'x', { file: '/other.yml', line: 1, column: 1 })])
  t.match(two.message, /^dataflow: invalid dataflow, 2 problems:/)
})

t.test('SpecErrors rebuilt from its serialized form keeps message, hint and every problem with its place', async (t) => {
  const errs = new SpecErrors([
    createSpecError('DORA_SPEC_MISSING_KEY', 'x', { file, line: 1, column: 1 }, 'add it'),
    createSpecError('DORA_SPEC_BAD_TIMER', 'y', { file, line: 4, column: 13, nodeId: 'n', operatorId: 'op' }),
  ])
  const back = deserializeError(JSON.parse(JSON.stringify(serializeError(errs))))
  t.ok(back instanceof SpecErrors)
  t.equal(back.message, errs.message)
  t.equal((back as SpecErrors).hint, errs.hint)
  const problems = (back as SpecErrors).errors
  t.same(
    problems.map((e) => [e.constructor, e.code, e.file, e.line, e.column, e.nodeId, e.operatorId, e.hint]),
    [
      [errs.errors[0]!.constructor, 'DORA_SPEC_MISSING_KEY', file, 1, 1, undefined, undefined, 'add it'],
      [SpecBadTimerError, 'DORA_SPEC_BAD_TIMER', file, 4, 13, 'n', 'op', undefined],
    ],
  )
  t.equal((back as SpecErrors).describe(), errs.describe())
})
