/**
 * Why a node's or operator's module failed to load, when the cause is the project around it
 * rather than the code: what a newcomer hits first, in words that say what to change.
 *
 * - **An ES module its package loads as CommonJS.** A `.js` or `.ts` file is an ES module to
 *   Node (and tsx) only under a package.json that says `"type": "module"`; `npm init` writes
 *   `"type": "commonjs"`, and without a type only Node's syntax detection (Node 20.19 and
 *   later, `.js` only) saves a file. Our examples and the SDK are ES modules, so a node copied
 *   into such a project failed on its first line with Node's or esbuild's message (`Cannot
 *   use import statement outside a module`, `Top-level await is currently not supported with
 *   the "cjs" output format`) and a stack of loader frames, restarted with back-off, and
 *   nothing said which file to change.
 * - **dora-ts not installed where the file is.** `Cannot find package 'dora-ts'`: the file
 *   lives outside any project that depends on dora-ts.
 *
 * Each is named only when the failure printed its sign and, for the first, when the package
 * really loads the file as CommonJS.
 *
 * @module
 */
import { dirname, extname } from 'node:path'
import { ownPackage, packageScopeOf } from '../package-scope.js'

/** What Node, tsx and esbuild print when ES module syntax is loaded as CommonJS. */
const ESM_LOADED_AS_COMMONJS = [
  'Cannot use import statement outside a module',
  "Unexpected token 'export'",
  'Top-level await is currently not supported with the "cjs" output format',
  'ERR_REQUIRE_ASYNC_MODULE',
  'ERR_REQUIRE_ESM',
]

/** What Node prints when an import of this package finds no installed copy. */
const SDK_NOT_FOUND = ["Cannot find package 'dora-ts'", "Cannot find module 'dora-ts'"]

/** Extensions whose format the package decides (`.mjs`/`.mts` are always ES modules). */
const PACKAGE_DECIDES = new Set(['.js', '.ts', '.tsx', '.jsx'])

/** This copy of dora-ts, to install from (it is not on the npm registry yet). */
function ownFolder(): string {
  try {
    return ownPackage().root
  } catch {
    return '/path/to/dora-ts'
  }
}

/**
 * For a module at `file` that failed to load with `output` (its error message, stderr lines):
 * the project's part in it and what to change, in one clause that follows `file is ...`; else
 * undefined.
 */
export function loadFailureHint(file: string, output: readonly string[]): string | undefined {
  const printed = (signs: readonly string[]): boolean => output.some((line) => signs.some((sign) => line.includes(sign)))
  if (printed(SDK_NOT_FOUND))
    return `not in a project with dora-ts installed: run \`npm install ${ownFolder()}\` in the project the file belongs to (or beside it)`
  if (!PACKAGE_DECIDES.has(extname(file)) || !printed(ESM_LOADED_AS_COMMONJS)) return undefined
  const scope = packageScopeOf(dirname(file))
  const type = scope?.json?.type
  if (type === 'module') return undefined
  const fix = `or name the file ${/\.tsx?$/.test(file) ? '.mts' : '.mjs'}`
  if (scope === undefined)
    return `an ES module that Node loads as CommonJS, as no package.json above it says "type": "module": create one beside it with {"type": "module"}, ${fix}`
  if (type === 'commonjs')
    return `an ES module that Node loads as CommonJS, as ${scope.file} says "type": "commonjs" (\`npm init\` writes that): make it "module", ${fix}`
  return `an ES module that Node loads as CommonJS, as ${scope.file} does not say "type": "module": add that there, ${fix}`
}
