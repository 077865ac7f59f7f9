/**
 * `dora-ts graph dataflow.yml`: draw a dataflow as a self-contained HTML page (inline SVG, no
 * network), or print it as a Mermaid flowchart with `--mermaid`.
 */
import { spawn } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join, relative, resolve } from 'node:path'
import { runRoot, runtimeDirCheck } from '../../src/transport/run-dir.js'
import { ensurePrivateDir } from '../../src/security/private-path.js'
import { pathToFileURL } from 'node:url'
import type { CommandModule } from 'yargs'
import { loadDataflow } from '../../src/spec/load.js'
import { writeTextFile } from '../tools/file-output.js'
import { writeGraphHtml } from '../tools/graph/html.js'
import { renderGraphMermaid } from '../tools/graph/mermaid.js'
import { buildGraph } from '../tools/graph/model.js'
import { CliUsageError } from './options.js'
import { createPrinter, type Printer } from './output.js'
import { errorMessage } from '../../src/errors.js'

interface GraphArgs {
  dataflow: string
  out?: string | undefined
  open: boolean
  mermaid: boolean
}

export const graphCommand: CommandModule<object, GraphArgs> = {
  command: 'graph <dataflow>',
  describe: 'Draw a dataflow: an HTML page with the graph, or a Mermaid flowchart',
  builder: (yargs) =>
    yargs
      .positional('dataflow', { type: 'string', demandOption: true, describe: 'Path of the dataflow YAML' })
      .option('out', {
        alias: 'o',
        type: 'string',
        describe: "Where to write the page (default: <dataflow name>.html in dora-ts's private runtime directory, not in your project; the path is printed)",
      })
      .option('open', { type: 'boolean', default: false, describe: 'Open the page in a browser (xdg-open, or open on macOS)' })
      .option('mermaid', { type: 'boolean', default: false, describe: 'Print a Mermaid flowchart to stdout instead (or to --out)' })
      .example('$0 graph dataflow.yml --open', 'Draw it and open the page in a browser')
      .example('$0 graph dataflow.yml -o docs/dataflow.html', 'Write the page into your project')
      .example('$0 graph dataflow.yml --mermaid', 'Print a Mermaid flowchart, e.g. for a README'),
  handler: async (args) => {
    const printer = createPrinter()
    // Drawing needs the structure only: do not insist that every node's file exists yet.
    const spec = await loadDataflow(args.dataflow, { checkFiles: false })
    if (args.out !== undefined && resolve(args.out) === spec.file) {
      throw new CliUsageError(`--out ${args.out} is the dataflow YAML itself; dora-ts graph will not overwrite it`, {
        hint: "Pass another file to --out, or leave it out to write the page into dora-ts's runtime directory.",
      })
    }
    const graph = buildGraph(spec)
    if (args.mermaid) {
      const text = renderGraphMermaid(graph)
      if (args.out === undefined) {
        process.stdout.write(text)
      } else {
        const file = resolve(args.out)
        writeTextFile(file, text)
        process.stdout.write(`${file}\n`)
      }
      if (args.open) printer.info('--open opens the HTML page, which --mermaid does not write; ignoring --open')
      return
    }
    const file = args.out === undefined ? defaultPage(spec.name) : resolve(args.out)
    const displayFile = relative(process.cwd(), spec.file)
    await writeGraphHtml(file, graph, { displayFile: displayFile.startsWith('..') ? spec.file : displayFile })
    const units = graph.boxes.flatMap((b) => b.units)
    const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
    printer.info(
      `drew dataflow "${spec.name}": ${count(graph.boxes.filter((b) => b.kind !== 'timer').length, 'node')}, ${count(units.filter((u) => u.kind === 'operator').length, 'operator')}, ${count(units.filter((u) => u.kind === 'timer').length, 'timer')}, ${count(graph.edges.length, 'connection')}`,
    )
    process.stdout.write(`${file}\n`)
    if (args.open) openInBrowser(file, printer)
  },
}

/**
 * Where the page goes without --out: dora-ts's private runtime directory, so drawing a graph
 * leaves no file in the user's repository (a dataflow.html next to the YAML ended up in commits,
 * issue 14). The printed path is what to open.
 */
function defaultPage(dataflowName: string): string {
  const dir = join(runRoot(), 'graphs')
  ensurePrivateDir(runRoot(), runtimeDirCheck(runRoot()))
  ensurePrivateDir(dir, { what: 'graph directory' })
  return join(dir, `${dataflowName}.html`)
}

/** Hand `file` to the desktop's opener; say so (and do not fail) when there is none. */
function openInBrowser(file: string, printer: Printer): void {
  const [command, ...before] = process.platform === 'darwin' ? ['open'] : process.platform === 'win32' ? ['cmd', '/c', 'start', '""'] : ['xdg-open']
  const url = pathToFileURL(file).href
  if (findOnPath(command!) === undefined) {
    printer.info(`--open: ${command} is not available here; open ${url} in a browser`)
    return
  }
  try {
    const child = spawn(command!, [...before, file], { detached: true, stdio: 'ignore' })
    child.on('error', (err) => printer.info(`--open: ${command} failed (${err.message}); open ${url} in a browser`))
    child.unref()
    printer.info(`opening ${url} with ${command}`)
  } catch (err) {
    printer.info(`--open: ${command} failed (${errorMessage(err)}); open ${url} in a browser`)
  }
}

function findOnPath(command: string): string | undefined {
  const extensions = process.platform === 'win32' ? (process.env['PATHEXT'] ?? '.EXE;.CMD;.BAT').split(';') : ['']
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue
    for (const ext of extensions) {
      const candidate = join(dir, command + ext)
      try {
        accessSync(candidate, constants.X_OK)
        return candidate
      } catch {
        // not here
      }
    }
  }
  return undefined
}
