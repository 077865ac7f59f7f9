/**
 * A run and the supervisor's open-file limit (src/fd-limit.ts): a dataflow whose units would
 * need more file descriptors than the supervisor may open is refused before anything starts,
 * and a run says once when a unit failed for want of them.
 *
 * Refused rather than started: out of descriptors, nodes and operators fail to start one after
 * another, each with its own EMFILE line, and the next node to connect kills the supervisor:
 * libzmq's ipc listener aborts the process when accept() fails with EMFILE (ipc_listener.cpp,
 * v4.3.5 and master: its errno_assert lists ENFILE but not EMFILE). Seen with 80 custom nodes
 * and 40 operators under `ulimit -n 256`: SIGABRT, exit 134.
 *
 * @module
 */
import { fdLimitHint, fdsNeeded, FdLimitError, openFdCount, openFileLimit } from '../../src/fd-limit.js'
import type { DataflowSpec } from '../../src/spec/types.js'

/** Throw {@link FdLimitError} when `spec`'s units would need more descriptors than `limit` allows. */
export function checkFdBudget(spec: DataflowSpec, limit: number | undefined = openFileLimit(), inUse: number | undefined = openFdCount()): void {
  if (limit === undefined || inUse === undefined) return
  let customNodes = 0
  let operators = 0
  for (const node of spec.nodes) {
    if (node.kind === 'custom') customNodes++
    else operators += node.operators.length
  }
  const needed = fdsNeeded(customNodes, operators, inUse)
  if (needed <= limit) return
  throw new FdLimitError(
    `dataflow "${spec.name}" was not started: its ${customNodes} custom node(s) and ${operators} operator(s) need about ${needed} open files in the supervisor ` +
      `(${inUse} in use already), and it may have ${limit} (\`ulimit -n\`)`,
    { hint: fdLimitHint() },
  )
}

/** The run's notice when a unit failed for want of file descriptors. */
export function outOfFdsNotice(limit: number | undefined = openFileLimit()): string {
  return `the supervisor ran out of file descriptors${limit === undefined ? '' : ` (limit ${limit}, \`ulimit -n\`)`}: nodes and operators fail to start. ${fdLimitHint()}`
}
