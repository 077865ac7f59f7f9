/**
 * `dora-ts build dataflow.yml`: run each node's `build:` command, as `dora build` does, so a
 * dora dataflow whose nodes build themselves (`pip install -e .`, `npm ci`, `cargo build`) is
 * taken as it is. In YAML order, one at a time, each through `/bin/sh -c` in the dataflow
 * file's folder with the node's `env` over the CLI's environment; the first that fails ends
 * the build with its node, its command and its exit, its output printed above as it came.
 * `run` and `start` never build: building is a step of its own, as in dora.
 *
 * @module
 */
import { spawn } from 'node:child_process'
import type { CommandModule } from 'yargs'
import { DoraError, registerErrorClass } from '../../src/errors.js'
import { loadDataflow } from '../../src/spec/load.js'
import type { NodeSpec } from '../../src/spec/types.js'
import { forEachLine } from '../supervisor/unit.js'
import { plural } from './check.js'
import { createPrinter, type Printer } from './output.js'

/** A node's build command failed: exited with an error, was killed, or could not be started. */
export class BuildFailedError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_CLI_BUILD_FAILED', message, options)
  }
}
registerErrorClass(BuildFailedError)

interface BuildArgs {
  dataflow: string
}

/** Run `node`'s build command in `cwd`, its output printed as the node's; resolves how it ended. */
function runBuild(
  node: NodeSpec,
  command: string,
  cwd: string,
  printer: Printer,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { cwd, env: { ...process.env, ...node.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    // Not started at all (no /bin/sh, the folder gone): 'error', and maybe no 'close'.
    child.on('error', (error) => resolve({ code: null, signal: null, error }))
    forEachLine(child.stdout, (text) => printer.log({ source: node.id, stream: 'stdout', level: 'info', text }))
    forEachLine(child.stderr, (text) => printer.log({ source: node.id, stream: 'stderr', level: 'info', text }))
    child.on('close', (code, signal) => resolve({ code, signal }))
  })
}

export const buildCommand: CommandModule<object, BuildArgs> = {
  command: 'build <dataflow>',
  describe: "Run each node's build: command (pip install, npm ci, cargo build, ...) as dora build does",
  builder: (yargs) =>
    yargs
      .positional('dataflow', { type: 'string', demandOption: true, describe: 'Path of the dataflow YAML' })
      .example('$0 build dataflow.yml', "Run the build: commands of dataflow.yml's nodes, in order, in its folder"),
  handler: async (args) => {
    // A node's `path` may be what its build makes: not looked for yet.
    const spec = await loadDataflow(args.dataflow, { checkFiles: false })
    const printer = createPrinter()
    const builds = spec.nodes.filter((node) => node.build !== undefined)
    if (builds.length === 0) {
      printer.info(`${args.dataflow}: no node has a build: command; nothing to build`)
      return
    }
    for (const node of builds) {
      const command = node.build!
      printer.info(`building node "${node.id}": ${command}`)
      const started = performance.now()
      const ended = await runBuild(node, command, spec.baseDir, printer)
      if (ended.error !== undefined || ended.code !== 0) {
        const how =
          ended.error !== undefined
            ? `could not be started (${ended.error.message})`
            : ended.signal !== null
              ? `was killed by ${ended.signal}`
              : `exited with code ${ended.code}`
        throw new BuildFailedError(`${spec.file}:${node.position.line}: node "${node.id}": its build command ${how}: ${command}`, {
          hint: `its output is above; fix the build, then run \`dora-ts build ${args.dataflow}\` again (the nodes before it are built, the ones after it are not)`,
        })
      }
      printer.info(`built node "${node.id}" in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    }
    printer.info(`${args.dataflow}: built ${plural(builds.length, 'node')}; run it with \`dora-ts run ${args.dataflow}\``)
  },
}
