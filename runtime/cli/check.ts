/**
 * `dora-ts check dataflow.yml`: validate a dataflow without running it: the YAML, the files it
 * names (executables must be executable), and the operators' syntax, so a typo in an operator
 * is found here rather than when the worker loads it.
 */
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { CommandModule } from 'yargs'
import { loadDataflow } from '../../src/spec/load.js'
import type { OperatorSpec } from '../../src/spec/types.js'
import { createPrinter } from './output.js'
import { CliUsageError } from './options.js'

interface CheckArgs {
  dataflow: string
}

interface EsbuildMessage {
  text: string
  location: { line: number; column: number } | null
}

interface Esbuild {
  transformSync(code: string, options: { loader: 'ts' | 'js'; format: 'esm'; sourcefile: string }): unknown
}

/** "1 node", "2 nodes". */
export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/**
 * Syntax errors of the operators' modules, as `file:line:col: message`. tsx (our TypeScript
 * loader, a dependency) compiles with esbuild; we ask the same esbuild, so `check` accepts
 * exactly what `run` can load. Only the syntax: types are the editor's and tsc's job.
 */
function operatorSyntaxErrors(operators: OperatorSpec[]): string[] {
  if (operators.length === 0) return []
  const esbuild = createRequire(import.meta.resolve('tsx'))('esbuild') as Esbuild
  const problems: string[] = []
  for (const op of operators) {
    let code: string
    try {
      code = readFileSync(op.module, 'utf8')
    } catch {
      continue // The spec already checked that it exists; a race with an editor is not ours to report.
    }
    try {
      esbuild.transformSync(code, { loader: op.language === 'typescript' ? 'ts' : 'js', format: 'esm', sourcefile: op.module })
    } catch (err) {
      const errors = (err as { errors?: EsbuildMessage[] }).errors ?? []
      for (const e of errors) {
        const at = e.location === null ? op.module : `${op.module}:${e.location.line}:${e.location.column + 1}`
        problems.push(`${at}: operator "${op.id}": ${e.text}`)
      }
    }
  }
  return problems
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check <dataflow>',
  describe: 'Validate a dataflow YAML, its files and its operators’ syntax without running it',
  builder: (yargs) =>
    yargs
      .positional('dataflow', { type: 'string', demandOption: true, describe: 'Path of the dataflow YAML' })
      .example('$0 check dataflow.yml', 'Report every mistake in dataflow.yml with its line and column'),
  handler: async (args) => {
    const spec = await loadDataflow(args.dataflow)
    const printer = createPrinter()
    for (const note of spec.notes ?? []) printer.info(`note: ${note}`)
    const operators = spec.nodes.flatMap((node) => (node.kind === 'operators' ? node.operators : []))
    const syntax = operatorSyntaxErrors(operators)
    if (syntax.length > 0) {
      throw new CliUsageError(`${args.dataflow}: ${plural(syntax.length, 'syntax error')} in operators:\n${syntax.join('\n')}`, {
        hint: 'fix the operator source; dora-ts run would fail to load it',
      })
    }
    const custom = spec.nodes.filter((n) => n.kind === 'custom').length
    printer.info(`${args.dataflow} is valid: ${plural(spec.nodes.length, 'node')} (${custom} custom, ${plural(operators.length, 'operator')})`)
  },
}
