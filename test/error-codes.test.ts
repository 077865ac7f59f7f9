import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ERROR_CODES, errorCodes, isDoraErrorCode, type DoraErrorCode } from '../src/error-codes.js'
import { DoraError, deserializeError, isRegisteredCode } from '../src/errors.js'

/** Family bases: abstract, no code of their own; `instanceof` matches their codes. */
const FAMILY_BASES = new Set(['SpecError', 'StateError', 'KvsError'])
const SOURCE_ROOTS = ['src', 'runtime', 'node-sdk', 'bench', 'scripts']

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}
const sources = SOURCE_ROOTS.flatMap(sourceFiles).map((file) => ({ file, text: readFileSync(file, 'utf8') }))

t.test('every code in the table is used by exactly one class, which raises it', async (t) => {
  const classNames = Object.values(ERROR_CODES).map((info) => info.className)
  t.equal(new Set(classNames).size, classNames.length, 'no class is named by two codes')
  for (const code of errorCodes()) {
    const info = ERROR_CODES[code]
    const module = (await import(`../${info.module.replace(/\.ts$/, '.js')}`)) as Record<string, unknown>
    const cls = module[info.className]
    if (typeof cls !== 'function') {
      t.fail(`${code}: ${info.module} exports no ${info.className}`)
      continue
    }
    t.ok(Object.prototype.isPrototypeOf.call(DoraError.prototype, cls.prototype), `${info.className} is a DoraError`)
    t.ok(isRegisteredCode(code), `${info.className} is registered for ${code}`)
    // Revived through the registry: the code and name come from the class's own constructor.
    const err = deserializeError({ name: 'x', code, message: 'm' }) as DoraError
    t.equal(err.constructor, cls, `${code} rebuilds as ${info.className}`)
    t.equal(err.code, code, `${info.className} raises ${code}`)
    t.equal(err.name, info.className)
    t.ok(info.doc.length > 0 && !info.doc.includes('\n'), `${code} has a one-line meaning`)
  }
})

t.test('every DoraError subclass in the sources has a row in the table', async (t) => {
  // Read the sources rather than the loaded modules, so a class in a file nobody imported
  // here (a new CLI command, ...) is found too.
  const parentOf = new Map<string, string>()
  const fileOf = new Map<string, string>()
  for (const { file, text } of sources) {
    for (const m of text.matchAll(/class (\w+) extends (\w+)/g)) {
      parentOf.set(m[1]!, m[2]!)
      fileOf.set(m[1]!, file)
    }
  }
  const isDora = (name: string): boolean => {
    for (let at: string | undefined = name; at !== undefined; at = parentOf.get(at)) if (at === 'DoraError') return true
    return false
  }
  const tabled = new Map<string, string>(Object.values(ERROR_CODES).map((info) => [info.className, info.module]))
  const subclasses = [...parentOf.keys()].filter((name) => name !== 'DoraError' && isDora(name))
  t.ok(subclasses.length >= tabled.size, `found ${subclasses.length} subclasses`)
  for (const name of subclasses) {
    if (FAMILY_BASES.has(name)) {
      t.match(readFileSync(fileOf.get(name)!, 'utf8'), new RegExp(`export abstract class ${name} `), `${name} is an abstract family base`)
      continue
    }
    t.equal(tabled.get(name), fileOf.get(name), `${name} has a row naming its file`)
  }
  for (const name of tabled.keys()) t.ok(subclasses.includes(name), `${name} (in the table) exists in the sources`)
})

t.test('every DORA_ code written in the sources is in the table', async (t) => {
  const unknown = new Set<string>()
  for (const { text } of sources) {
    // Environment variables are DORA_TS_*; a prefix (DORA_KVS_) ends in `_`.
    for (const m of text.matchAll(/'(DORA_(?!TS_)[A-Z0-9_]*[A-Z0-9])'/g)) if (!isDoraErrorCode(m[1]!)) unknown.add(m[1]!)
  }
  t.same([...unknown], [], 'codes used in code but missing from src/error-codes.ts')
})

t.test('codes follow the naming rule', async (t) => {
  for (const code of errorCodes() as DoraErrorCode[]) t.match(code, /^DORA_[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/, code)
})
