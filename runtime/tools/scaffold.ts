/**
 * `dora-ts new`: the files of a new dataflow, operator or custom node. Each scaffold runs as
 * it is (the dataflow: a timer-driven source node, an operator that transforms and keeps
 * state, and a sink node that prints), and nothing existing is ever overwritten.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { ownPackage, packageScopeOf } from '../../src/package-scope.js'
import { nodeIdProblem } from '../../src/spec/ids.js'
import { FileExistsError, writeTextFile } from './file-output.js'

export type ScaffoldKind = 'dataflow' | 'operator' | 'node'
export type ScaffoldLang = 'ts' | 'js'

export interface ScaffoldFile {
  /** Path relative to the folder the scaffold is written into. */
  path: string
  text: string
}

/**
 * Why `name` cannot name a scaffold, or undefined when it can. The rule of node ids, since the
 * name also becomes the node id (or the dataflow name) in the YAML.
 */
export function scaffoldNameProblem(name: string): string | undefined {
  return nodeIdProblem(name)
}

/** File extension of a module in `lang`: `.mjs` for JS, so it is an ES module in any project. */
export function moduleExtension(lang: ScaffoldLang): '.ts' | '.mjs' {
  return lang === 'ts' ? '.ts' : '.mjs'
}

/** The files of a scaffold, paths relative to where they go. */
export function scaffoldFiles(kind: ScaffoldKind, name: string, lang: ScaffoldLang): ScaffoldFile[] {
  const ext = moduleExtension(lang)
  switch (kind) {
    case 'operator':
      return [{ path: `${name}${ext}`, text: operatorTemplate(name, lang) }]
    case 'node':
      return [{ path: `${name}${ext}`, text: nodeTemplate(name, lang) }]
    case 'dataflow':
      return [
        { path: join(name, 'dataflow.yml'), text: dataflowYaml(name, lang) },
        { path: join(name, `source${ext}`), text: sourceTemplate() },
        { path: join(name, `transform${ext}`), text: transformTemplate(lang) },
        { path: join(name, `sink${ext}`), text: sinkTemplate() },
        { path: join(name, 'README.md'), text: readme(name) },
        { path: join(name, 'package.json'), text: projectPackageJson(name) },
        { path: join(name, '.gitignore'), text: '# operator state written by dora-ts run\n.dora-ts/\nnode_modules/\n' },
      ]
  }
}

/**
 * Write `files` into `dir`. Checks first that none exists (and, for a dataflow, that its folder
 * is new or empty), so it writes all of them or nothing; each write is also exclusive.
 *
 * @returns the absolute paths written.
 * @throws {@link FileExistsError} (`DORA_CLI_FILE_EXISTS`) naming what is in the way.
 */
export function writeScaffold(dir: string, files: readonly ScaffoldFile[], folder?: string): string[] {
  const root = resolve(dir)
  if (folder !== undefined) {
    const target = join(root, folder)
    if (existsSync(target) && (!statSync(target).isDirectory() || readdirSync(target).length > 0)) {
      throw new FileExistsError(`${target} already exists and is not an empty folder; dora-ts new does not overwrite anything`, {
        hint: 'Choose another name, pass --dir to create it elsewhere, or move the existing folder away first.',
      })
    }
  }
  const taken = files.map((f) => join(root, f.path)).filter((path) => existsSync(path))
  if (taken.length > 0) {
    throw new FileExistsError(`${taken.join(', ')} already exist${taken.length === 1 ? 's' : ''}; dora-ts new does not overwrite files`, {
      hint: 'Choose another name, pass --dir to create it elsewhere, or move the existing file away first.',
    })
  }
  return files.map((f) => {
    const path = join(root, f.path)
    writeTextFile(path, f.text, { exclusive: true })
    return path
  })
}

/**
 * For TypeScript scaffolds: the nearest package.json above `dir` when it does not make `.ts`
 * files ES modules (no `"type": "module"`), or `'none'` when there is no package.json at all.
 * Node (and tsx) then load a `.ts` file as CommonJS, which cannot import dora-ts.
 */
export function commonJsPackage(dir: string): string | undefined {
  const scope = packageScopeOf(resolve(dir))
  if (scope === undefined) return 'none'
  return scope.json?.type === 'module' ? undefined : scope.file
}

/** How to show `path` to the user: relative to the cwd when it is below it. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel === '' || rel.startsWith('..') ? path : rel
}

/** dora-ts's runtime dependencies (direct or not) that run an install script. */
const NATIVE_DEPENDENCIES = ['lmdb', 'msgpackr-extract', 'zeromq']

/**
 * A new dataflow is its own npm project: `"type": "module"` so Node loads the `.ts` and `.js`
 * files as ES modules (CommonJS cannot import dora-ts: "Top-level await is currently not
 * supported with the cjs output format"), and a dependency on dora-ts so its nodes and
 * operators can `import ... from 'dora-ts'` and `npx dora-ts` finds the CLI without the registry.
 */
function projectPackageJson(name: string): string {
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: { start: 'dora-ts run dataflow.yml', check: 'dora-ts check dataflow.yml' },
    dependencies: { 'dora-ts': `^${ownPackage().version}` },
    // npm 11.16+ lists every dependency install script not approved here, and npm 12 skips
    // them: these are dora-ts's native dependencies' (prebuilt binaries where they exist,
    // a build from source elsewhere), so a new project installs quietly and works anywhere.
    allowScripts: Object.fromEntries(NATIVE_DEPENDENCIES.map((dep) => [dep, true])),
  }
  return `${JSON.stringify(pkg, null, 2)}\n`
}

function dataflowYaml(name: string, lang: ScaffoldLang): string {
  const ext = moduleExtension(lang)
  return `# ${name}: a timer drives \`source\` (a custom node), the \`transform\` operator scales each
# reading and keeps a running total as state, and \`sink\` (a custom node) prints the result.
#
#   timer (500 ms) -> source -> transform -> sink
#
# Set up:    npm install                        (installs dora-ts, see package.json)
# Check it:  npx dora-ts check dataflow.yml
# Run it:    npx dora-ts run dataflow.yml        (Ctrl-C stops it cleanly)
# Draw it:   npx dora-ts graph dataflow.yml --open
name: ${name}
nodes:
  - id: source
    path: ./source${ext}
    inputs:
      tick: dora/timer/millis/500
    outputs:
      - reading

  - id: transform
    operator:
      ${lang === 'ts' ? 'typescript' : 'javascript'}: ./transform${ext}
      inputs:
        reading: source/reading
      outputs:
        - scaled

  - id: sink
    path: ./sink${ext}
    inputs:
      scaled: transform/scaled
`
}

function readme(name: string): string {
  return `# ${name}

A dora-ts dataflow: a timer-driven source node sends readings, an operator scales them (keeping a running total as state that survives crashes and restarts), and a sink node prints them. Run it with \`npx dora-ts run dataflow.yml\` from this folder; \`npx dora-ts graph dataflow.yml --open\` draws it.
`
}

function sourceTemplate(): string {
  return `/**
 * source (custom node, a process of its own): on every timer tick, sends a reading as JSON on
 * its \`reading\` output.
 */
import { Node } from 'dora-ts'

const node = await Node.connect()
let count = 0
for await (const event of node.events()) {
  if (event.type === 'input' && event.id === 'tick') {
    count++
    const reading = { count, value: Math.round(Math.sin(count / 4) * 1000) / 1000 }
    await node.sendJson('reading', reading)
  } else if (event.type === 'stop') {
    console.log(\`stopping (\${event.cause}) after \${count} readings\`)
  }
  // Other events (input-closed, node-restarted, ...) need nothing here.
}
await node.close()
`
}

function transformTemplate(lang: ScaffoldLang): string {
  const ts = lang === 'ts'
  return `/**
 * transform (operator, runs in a worker thread inside the supervisor): scales each reading and
 * keeps a running total. The total is saved state: after a crash, or when the dataflow starts
 * again, restoreState hands back the state of the last completed event.
 */
import { defineOperator, decodeJson, msgpack } from 'dora-ts'
${ts ? '\ninterface Reading {\n  count: number\n  value: number\n}\n' : ''}
export default defineOperator(() => {
  let seen = 0
  let total = 0
  return {
    restoreState(state, ctx) {
      const savedSeen = state.get('seen')
      const savedTotal = state.get('total')
      if (savedSeen !== undefined) seen = msgpack.decode${ts ? '<number>' : ''}(savedSeen)
      if (savedTotal !== undefined) total = msgpack.decode${ts ? '<number>' : ''}(savedTotal)
      ctx.log.info(\`restored: \${seen} readings so far\`)
    },
    onInput(input, ctx) {
      const reading = decodeJson${ts ? '<Reading>' : ''}(input.data)
      const scaled = Math.round(reading.value * 100)
      seen++
      total += scaled
      // Both keys commit together when this handler returns: never one without the other.
      ctx.saveState('seen', msgpack.encode(seen))
      ctx.saveState('total', msgpack.encode(total))
      ctx.sendJson('scaled', { count: reading.count, scaled, average: Math.round(total / seen) })
    },
  }
})
`
}

function sinkTemplate(): string {
  return `/**
 * sink (custom node, a process of its own): prints every value it receives.
 */
import { Node, decodeJson } from 'dora-ts'

const node = await Node.connect()
for await (const event of node.events()) {
  switch (event.type) {
    case 'input':
      console.log(\`received \${event.id}: \${JSON.stringify(decodeJson(event.data))}\`)
      break
    case 'stop':
      console.log(\`stopping (\${event.cause})\`)
      break
    default:
      // input-closed, node-restarted, and event kinds added later: nothing to do.
      break
  }
}
await node.close()
`
}

function operatorTemplate(name: string, lang: ScaffoldLang): string {
  const ts = lang === 'ts'
  const ext = moduleExtension(lang)
  return `/**
 * ${name}: a dora-ts operator. It runs in a worker thread inside the supervisor; after a crash
 * the supervisor restarts it and restoreState gets the state of its last completed event.
 *
 * Add it to a dataflow:
 *
 *   - id: ${name}
 *     operator:
 *       ${ts ? 'typescript' : 'javascript'}: ./${name}${ext}
 *       inputs:
 *         tick: dora/timer/millis/1000      # or some-node/some-output
 *       outputs:
 *         - result
 */
import { defineOperator, msgpack } from 'dora-ts'

export default defineOperator(() => {
  // Kept in a closure: every (re)start of the operator gets a fresh instance, then restoreState.
  let count = 0
  return {
    /** Called before the first event whenever saved state exists. */
    restoreState(state, ctx) {
      const saved = state.get('count')
      if (saved !== undefined) count = msgpack.decode${ts ? '<number>' : ''}(saved)
      ctx.log.info(\`restored count=\${count} (restart \${ctx.restartCount})\`)
    },
    onInput(input, ctx) {
      count++
      // saveState commits atomically with the rest of this event when the handler returns.
      ctx.saveState('count', msgpack.encode(count))
      // Send only on outputs the dataflow declares (sending on another one throws).
      if (ctx.outputs.includes('result')) ctx.sendJson('result', { input: input.id, count, bytes: input.data.length })
    },
    onStop(event, ctx) {
      ctx.log.info(\`stopping (\${event.cause}) after \${count} inputs\`)
    },
  }
})
`
}

function nodeTemplate(name: string, lang: ScaffoldLang): string {
  const ext = moduleExtension(lang)
  return `/**
 * ${name}: a dora-ts custom node, a process of its own that talks to the supervisor.
 *
 * Add it to a dataflow:
 *
 *   - id: ${name}
 *     path: ./${name}${ext}
 *     inputs:
 *       tick: dora/timer/millis/1000      # or some-node/some-output
 *     outputs:
 *       - out
 */
import { Node } from 'dora-ts'

const node = await Node.connect()
let received = 0
for await (const event of node.events()) {
  switch (event.type) {
    case 'input':
      received++
      console.log(\`input \${event.id}: \${event.data.length} bytes (#\${received})\`)
      // Send only on outputs the dataflow declares for this node (sending on another one throws).
      if (node.outputs.includes('out')) await node.sendJson('out', { received })
      break
    case 'input-closed':
      console.log(\`input \${event.id} closed\`)
      break
    case 'stop':
      // The event stream ends after Stop: clean up below the loop.
      console.log(\`stopping (\${event.cause}) after \${received} inputs\`)
      break
    default:
      // node-restarted, node-failed, error, and event kinds added later.
      break
  }
}
await node.close()
`
}
