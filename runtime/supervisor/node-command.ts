/**
 * How a custom node's process is started and signalled: the command line for its runtime, and
 * signals to its whole process group (custom-node.ts owns the process itself).
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process'
import type { CustomNodeSpec } from '../../src/spec/types.js'
import { isExecutable, shebangOf } from '../../src/spec/files.js'

/** The TS loader passed to `node --import` for `.ts` nodes, resolved from our own install. */
const TSX_LOADER = import.meta.resolve('tsx')

/**
 * How to launch a node: `.ts` through node with the tsx loader, `.js` with node, `.py` with
 * python3 (as dora does), else exec; a script without the executable bit through its `#!` line.
 */
export function commandLine(spec: CustomNodeSpec): { command: string; args: string[] } {
  switch (spec.runtime) {
    case 'ts':
      return { command: process.execPath, args: ['--import', TSX_LOADER, spec.path, ...spec.args] }
    case 'js':
      return { command: process.execPath, args: [spec.path, ...spec.args] }
    case 'py':
      return { command: 'python3', args: [spec.path, ...spec.args] }
    case 'exe': {
      const shebang = isExecutable(spec.path) ? undefined : shebangOf(spec.path)
      if (shebang === undefined) return { command: spec.path, args: spec.args }
      return { command: shebang[0]!, args: [...shebang.slice(1), spec.path, ...spec.args] }
    }
  }
}

/**
 * Signal the node's whole process group (it leads one: see the spawn), so helpers it started,
 * such as the real program behind a shell wrapper, go with it; the process alone if that fails.
 */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid !== undefined) {
    try {
      process.kill(-child.pid, signal)
      return
    } catch {
      // The group is gone or not ours: fall back on the process.
    }
  }
  child.kill(signal)
}
