/**
 * What `dora-ts state` does to a dataflow's state store, outside of a run: find the store (by
 * dataflow name or YAML, as `dora-ts run` does), name its operators, and clear them. The other
 * commands' parts have their own modules: reaching the store, live or not (store-access.ts),
 * snapshots and restore (snapshots.ts), and showing values (value-format.ts).
 *
 * Reading (ls, dump, snapshot) works while a run owns the store, but never by opening the live
 * store here: the owning run answers on its state service (service.ts says why). A store
 * no run owns is opened here under the owner lock (`owner.pid`), so no run starts committing
 * into it meanwhile. Writing (clear, restore) takes the owner lock too, so it is refused while a
 * run lives.
 */
import { statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DoraError, registerErrorClass } from '../../src/errors.js'
import { loadDataflow } from '../../src/spec/load.js'
import type { OperatorStats } from '../../src/store/state/store.js'
import { stateRootOf } from './location.js'
import { lockForWriting, requireStore, withStore, type StateTarget } from './store-access.js'

/** The store has no operator of that name. */
export class StateUnknownOperatorError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_STATE_UNKNOWN_OPERATOR', message, options)
  }
}
registerErrorClass(StateUnknownOperatorError)

/** A bad dataflow name on the command line. */
export class StateNameError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_STATE_BAD_NAME', message, options)
  }
}
registerErrorClass(StateNameError)

/** The default state root for a dataflow named on the command line: `./.dora-ts/state`. */
export const DEFAULT_STATE_ROOT = join('.dora-ts', 'state')

/**
 * Resolve `target`, a dataflow name or the path of its YAML, to its store. For a YAML the
 * root is `stateDirOption`, else the YAML's `state_dir`, else `.dora-ts/state` next to it (as
 * `dora-ts run`), and the name is `runName` (`dora-ts run --name`), else the YAML's; for a
 * name the root is `stateDirOption`, else `./.dora-ts/state`.
 */
export async function resolveStateTarget(target: string, stateDirOption?: string, runName?: string): Promise<StateTarget> {
  if (/\.ya?ml$/i.test(target) || isFile(target)) {
    const spec = await loadDataflow(target, { checkFiles: false })
    const root = stateRootOf(spec, stateDirOption)
    const name = runName ?? spec.name
    const problem = nameProblem(name)
    if (problem !== undefined)
      throw new StateNameError(`--name ${JSON.stringify(name)} is not a dataflow name: it ${problem}`, { hint: 'Pass the name given to dora-ts run --name.' })
    return { name, root, dir: join(root, name), file: spec.file }
  }
  if (runName !== undefined) {
    throw new StateNameError(`--name goes with a dataflow YAML, not with the dataflow name ${JSON.stringify(target)}`, {
      hint: `Pass the run's name alone (dora-ts state ls ${runName}), or the YAML with --name.`,
    })
  }
  const problem = nameProblem(target)
  if (problem !== undefined) {
    throw new StateNameError(`${JSON.stringify(target)} is not a dataflow name: it ${problem}`, {
      hint: 'Name the dataflow as `dora-ts run` does (the YAML `name:`, or the file name without .yml), or pass the path of its YAML.',
    })
  }
  const root = resolve(stateDirOption ?? DEFAULT_STATE_ROOT)
  return { name: target, root, dir: join(root, target) }
}

/**
 * The operator key `operator` names in `stats`: `node/operator` as it is, or a bare `node` for
 * a single operator (`node/node`), or a bare operator id when only one node has it.
 *
 * @throws {@link StateUnknownOperatorError} listing the operators there are.
 */
export function resolveOperator(target: StateTarget, stats: readonly OperatorStats[], operator: string): string {
  const keys = stats.map((s) => s.operator)
  if (keys.includes(operator)) return operator
  const candidates = operator.includes('/') ? [] : keys.filter((k) => k === `${operator}/${operator}` || k.endsWith(`/${operator}`))
  if (candidates.length === 1) return candidates[0]!
  const known = keys.length === 0 ? 'it holds no operator state' : `its operators are: ${keys.join(', ')}`
  const why = candidates.length > 1 ? `"${operator}" matches ${candidates.join(' and ')}` : `it has no operator "${operator}"`
  throw new StateUnknownOperatorError(`cannot find the state of operator "${operator}" of dataflow "${target.name}" in ${target.dir}: ${why}; ${known}`, {
    hint: 'Name the operator as node/operator (or just the node for a single operator), as `dora-ts state ls` lists them.',
  })
}

/** Clear every operator's state, or one operator's, under the owner lock. */
export async function clearState(target: StateTarget, operator?: string): Promise<string[]> {
  requireStore(target)
  const lock = await lockForWriting(target, operator === undefined ? 'clear the state' : `clear the state of operator "${operator}"`, 'clear the state')
  try {
    return await withStore(target.dir, (store) => {
      const stats = store.stats()
      const keys = operator === undefined ? stats.map((s) => s.operator) : [resolveOperator(target, stats, operator)]
      if (operator === undefined) store.clear()
      else store.clear(keys[0])
      return keys
    })
  } finally {
    lock.release()
  }
}

function nameProblem(name: string): string | undefined {
  if (name === '') return 'is empty'
  if (name === '.' || name === '..') return 'is a folder reference'
  if (name.includes('/') || name.includes('\\')) return 'contains a path separator (pass a YAML path ending in .yml or .yaml, or the name alone)'
  if (name.startsWith('.')) return 'starts with "." (folders starting with "." under the state root are not stores)'
  return undefined
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}
