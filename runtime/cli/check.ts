/**
 * `dora-ts check dataflow.yml`: validate a dataflow without running it: the YAML, the files it
 * names (executables must be executable), and the syntax of the operators and of the custom
 * nodes in TypeScript, JavaScript or Python, so a typo is found here rather than when the
 * worker loads it or the node's process starts.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import type { CommandModule } from 'yargs'
import { loadDataflow } from '../../src/spec/load.js'
import { pythonTraceback } from '../../src/transport/printed-failure.js'
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

/** A file `check` compiles: an operator's module or a custom node's program. */
interface Source {
  /** `operator "filter"`, `node "camera"`: who it is, in a problem's line. */
  who: string
  path: string
  loader: 'ts' | 'js' | 'py'
}

/** Longest a python3 parse of one file may take on a loaded machine before check gives up on it. */
const PYTHON_PARSE_TIMEOUT_MS = 20_000

/**
 * Syntax errors of the operators' modules and of the custom nodes' programs, as
 * `file:line:col: who: message`. For TypeScript and JavaScript, tsx (our TypeScript loader, a
 * dependency) compiles with esbuild; we ask the same esbuild, so `check` accepts exactly what
 * `run` can load. Only the syntax: types are the editor's and tsc's job. A Python node is
 * parsed by the python3 that runs it (`ast.parse`: nothing of it runs, no bytecode is written).
 */
function syntaxErrors(sources: Source[]): string[] {
  const problems: string[] = []
  let esbuild: Esbuild | undefined
  for (const source of sources) {
    let code: string
    try {
      code = readFileSync(source.path, 'utf8')
    } catch {
      continue // The spec already checked that it exists; a race with an editor is not ours to report.
    }
    if (source.loader === 'py') {
      const problem = pythonSyntaxError(source)
      if (problem !== undefined) problems.push(problem)
      continue
    }
    esbuild ??= createRequire(import.meta.resolve('tsx'))('esbuild') as Esbuild
    try {
      esbuild.transformSync(code, { loader: source.loader, format: 'esm', sourcefile: source.path })
    } catch (err) {
      const errors = (err as { errors?: EsbuildMessage[] }).errors ?? []
      for (const e of errors) {
        const at = e.location === null ? source.path : `${source.path}:${e.location.line}:${e.location.column + 1}`
        problems.push(`${at}: ${source.who}: ${e.text}`)
      }
    }
  }
  return problems
}

/** What python3 finds wrong with the syntax of a Python node's file, as one problem line; undefined when nothing. */
function pythonSyntaxError(source: Source): string | undefined {
  const parse = spawnSync('python3', ['-c', 'import ast, sys\nast.parse(open(sys.argv[1], "rb").read(), sys.argv[1])', source.path], {
    encoding: 'utf8',
    timeout: PYTHON_PARSE_TIMEOUT_MS,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  if ((parse.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    return `${source.path}: ${source.who}: python3 is not on PATH, and dora-ts runs .py nodes with it: install Python 3 (Debian: apt-get install python3)`
  if (parse.status === 0 || typeof parse.stderr !== 'string') return undefined
  const lines = parse.stderr.split('\n')
  const traceback = pythonTraceback(lines)
  if (traceback === undefined) return `${source.path}: ${source.who}: ${lines.filter((l) => l.trim() !== '').at(-1) ?? 'a syntax error'}`
  return `${traceback.file === source.path ? `${source.path}:${traceback.line}` : source.path}: ${source.who}: ${traceback.exception}`
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check <dataflow>',
  describe: 'Validate a dataflow YAML, its files and the syntax of its operators and nodes without running it',
  builder: (yargs) =>
    yargs
      .positional('dataflow', { type: 'string', demandOption: true, describe: 'Path of the dataflow YAML' })
      .example('$0 check dataflow.yml', 'Report every mistake in dataflow.yml with its line and column'),
  handler: async (args) => {
    const spec = await loadDataflow(args.dataflow)
    const printer = createPrinter()
    for (const note of spec.notes ?? []) printer.info(`note: ${note}`)
    const operators = spec.nodes.flatMap((node) => (node.kind === 'operators' ? node.operators : []))
    const sources: Source[] = [
      ...operators.map((op): Source => ({ who: `operator "${op.id}"`, path: op.module, loader: op.language === 'typescript' ? 'ts' : 'js' })),
      ...spec.nodes.flatMap((node): Source[] =>
        node.kind === 'custom' && node.runtime !== 'exe' ? [{ who: `node "${node.id}"`, path: node.path, loader: node.runtime }] : [],
      ),
    ]
    const syntax = syntaxErrors(sources)
    if (syntax.length > 0) {
      throw new CliUsageError(`${args.dataflow}: ${plural(syntax.length, 'problem')} in the sources of its operators and nodes:\n${syntax.join('\n')}`, {
        hint: 'fix the source; dora-ts run would fail to load it',
      })
    }
    const custom = spec.nodes.filter((n) => n.kind === 'custom').length
    printer.info(`${args.dataflow} is valid: ${plural(spec.nodes.length, 'node')} (${custom} custom, ${plural(operators.length, 'operator')})`)
  },
}
