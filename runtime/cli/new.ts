/**
 * `dora-ts new dataflow|operator|node NAME`: scaffold files that run as they are. Never
 * overwrites anything (DORA_CLI_FILE_EXISTS).
 */
import { join, resolve } from 'node:path'
import type { CommandModule } from 'yargs'
import { commonJsPackage, displayPath, scaffoldFiles, scaffoldNameProblem, writeScaffold, type ScaffoldKind, type ScaffoldLang } from '../tools/scaffold.js'
import { ownPackage } from '../../src/package-scope.js'
import { CliUsageError } from './options.js'
import { createPrinter } from './output.js'

interface NewArgs {
  kind: ScaffoldKind
  name: string
  lang?: ScaffoldLang | undefined
  dir: string
}

const KINDS: readonly ScaffoldKind[] = ['dataflow', 'operator', 'node']
const LANGS: readonly ScaffoldLang[] = ['ts', 'js']

export const newCommand: CommandModule<object, NewArgs> = {
  command: 'new <kind> <name>',
  describe: 'Scaffold a dataflow (source node, operator, sink node), an operator or a custom node',
  builder: (yargs) =>
    yargs
      .positional('kind', { choices: KINDS, demandOption: true, describe: 'What to create' })
      .positional('name', { type: 'string', demandOption: true, describe: 'Its name: the folder (dataflow) or file name, and the id in the YAML' })
      .option('lang', { choices: LANGS, describe: 'TypeScript (.ts) or JavaScript (.mjs); default ts' })
      .option('dir', { type: 'string', default: '.', describe: 'Folder to create it in' })
      .example('$0 new dataflow my-robot', 'Create my-robot/ with dataflow.yml, a source node, an operator and a sink node')
      .example('$0 new operator filter --dir operators', 'Create operators/filter.ts, a defineOperator skeleton with state')
      .example('$0 new node camera --lang js', 'Create camera.mjs, a custom node skeleton'),
  handler: (args) => {
    const printer = createPrinter()
    let name = args.name
    let lang = args.lang
    const ext = /^(.+)\.(ts|mts|js|mjs)$/.exec(name)
    if (ext !== null && args.kind !== 'dataflow') {
      const implied: ScaffoldLang = ext[2] === 'ts' || ext[2] === 'mts' ? 'ts' : 'js'
      if (lang !== undefined && lang !== implied) {
        throw new CliUsageError(`the name ${JSON.stringify(name)} ends in .${ext[2]!} but --lang is ${lang}`, {
          hint: 'Give the name without an extension, e.g. dora-ts new operator filter --lang js.',
        })
      }
      name = ext[1]!
      lang = implied
    }
    const problem = scaffoldNameProblem(name)
    if (problem !== undefined) {
      throw new CliUsageError(`${JSON.stringify(name)} cannot name a new ${args.kind}: the name ${problem}`, {
        hint: 'Use letters, digits, "_", "." and "-", e.g. dora-ts new ' + args.kind + ' my-' + args.kind + '.',
      })
    }
    lang ??= 'ts'
    const dir = resolve(args.dir)
    const written = writeScaffold(dir, scaffoldFiles(args.kind, name, lang), args.kind === 'dataflow' ? name : undefined)
    for (const file of written) printer.info(`created ${displayPath(file)}`)
    const where = args.kind === 'dataflow' ? join(dir, name) : dir
    if (lang === 'ts' && args.kind !== 'dataflow') {
      const pkg = commonJsPackage(where)
      if (pkg !== undefined) {
        const which = pkg === 'none' ? 'there is no package.json above it' : `${displayPath(pkg)} does not set "type": "module"`
        printer.info(
          `note: ${which}, so Node loads .ts files there as CommonJS, which cannot import dora-ts; add "type": "module" to the package.json, or use --lang js (.mjs files are always ES modules)`,
        )
      }
    }
    if (args.kind === 'dataflow') {
      const yml = displayPath(join(dir, name, 'dataflow.yml'))
      const folder = displayPath(join(dir, name))
      // dora-ts is not on the npm registry yet: a plain `npm install` there fails with E404.
      printer.info(
        `next: cd ${folder} && npm install ${ownPackage().root} && npx dora-ts run dataflow.yml   (it depends on dora-ts, installed from this copy; check it with npx dora-ts check dataflow.yml)`,
      )
      void yml
    } else {
      printer.info(`next: add it to a dataflow YAML as shown at the top of ${displayPath(written[0]!)}`)
    }
  },
}
