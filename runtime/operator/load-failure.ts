/**
 * One line for why an operator's module failed to load, with the place it failed: what the
 * run reports as `failed to load <module>: ...`. Runs in the worker that failed.
 *
 * A syntax error in the module's own file reaches `import()` without its place: V8 keeps the
 * line for the block Node prints when such an error goes uncaught, and the error's stack names
 * only the loader (`missing ) after argument list`, then five frames of node:internal). The
 * run said that much and no more. So the worker asks `node --check` for the file, which prints
 * that block, and keeps its place when it is the same error (an error in a file the module
 * imports leaves the module's own check clean: said without a place, as before). TypeScript's
 * come from esbuild, place and all; any other error is named with its first frame in the
 * operator's code, as a node's crash note names it.
 *
 * @module
 */
import { spawnSync } from 'node:child_process'
import { describeUncaught } from '../../src/transport/crash-note.js'
import { esbuildFailure, printedFailure } from '../../src/transport/printed-failure.js'

/** Long enough for a module of any size to be parsed on a loaded machine; a check never blocks the load's report for longer. */
const CHECK_TIMEOUT_MS = 10_000

/** `Name: message (at ./file:line[:col])` for `err`, which `import()` of `modulePath` (or what follows it) threw. */
export function describeLoadFailure(err: unknown, modulePath: string, cwd = process.cwd()): string {
  if (err instanceof Error) {
    const compiled = esbuildFailure(err.message.split('\n'), cwd)
    if (compiled !== undefined) return compiled
    if (err.name === 'SyntaxError' && !(err.stack ?? '').includes(modulePath)) {
      const placed = checkedSyntax(modulePath, cwd)
      if (placed?.startsWith(`SyntaxError: ${err.message} (at `) === true) return placed
    }
  }
  return describeUncaught(err, cwd)
}

/** What `node --check` says of `file`: its syntax error in one line, or undefined (none, or no answer). */
function checkedSyntax(file: string, cwd: string): string | undefined {
  const check = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8', timeout: CHECK_TIMEOUT_MS, stdio: ['ignore', 'ignore', 'pipe'] })
  if (check.status === 0 || typeof check.stderr !== 'string') return undefined
  return printedFailure(check.stderr.split('\n'), cwd)
}
