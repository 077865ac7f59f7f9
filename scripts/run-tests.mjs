// `npm test`: compile, then run the tests; lint and check the formatting beside both.
//
// tsc comes before the tests: it type-checks everything and emits dist/, which the tests (and
// the workers, nodes and CLI they start) run. eslint and prettier need neither dist/ nor the
// tests, so they start at once, beside tsc: tsc is one thread, and the second core sat idle
// for its ~25 s while the two checks (~53 s of CPU on the 2-core machine: eslint's type-aware
// rules build a program of their own, 35 s; prettier 18 s) later took CPU from the tests, which
// keep both cores ~87% busy. Their output is held back until tap is done, so it is not lost
// in the tests' report; any step that fails fails the run. Arguments go to tap
// (`npm test -- test/x.test.ts`).
//
// The tests run compiled: tap gets dist/test/**/*.test.js, which the tsc step has just
// emitted, not test/**/*.test.ts. Each test process then imports JavaScript as is instead of
// registering tsx and compiling every module it loads (~130 processes per run: see the README's
// "Tests" section for the measured difference). The list comes from the sources, so a compiled
// file whose source was moved or deleted (dist/ is never cleaned) is not run. A test file given
// as an argument runs compiled too (`npm test -- test/x.test.ts`); `npx tap test/x.test.ts`
// runs the source through tsx (.taprc).
//
// Not named test.mjs: tap's default include takes any `test.mjs` for a test file, and ran this
// one, which ran tap again.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bundleSdk } from './bundle-sdk.mjs'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const bin = (name) => join(ROOT, 'node_modules', '.bin', name)

/** Run a command; with `quiet`, keep its output and hand it back instead of printing it. */
function run(name, args, quiet) {
  return new Promise((resolve) => {
    const child = spawn(bin(name), args, { cwd: ROOT, stdio: quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit' })
    let output = ''
    if (quiet) {
      child.stdout.setEncoding('utf8').on('data', (s) => (output += s))
      child.stderr.setEncoding('utf8').on('data', (s) => (output += s))
    }
    child.once('error', (err) => resolve({ name, code: 1, output: `${output}${err.message}\n` }))
    child.once('close', (code, signal) => resolve({ name, code: code ?? 1, signal, output }))
  })
}

/** The test files under test/ (relative, with /), as tap's default include finds them: fixture folders left out. */
function sourceTests(dir = join(ROOT, 'test')) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return /^fixtures?$/.test(entry.name) ? [] : sourceTests(path)
    return entry.name.endsWith('.test.ts') ? [relative(ROOT, path).split(sep).join('/')] : []
  })
}

/** test/x.test.ts -> dist/test/x.test.js, when tsc emitted it; anything else as given. */
function compiled(arg) {
  const match = /^(?:\.\/)?(test\/.*)\.ts$/.exec(arg.split(sep).join('/'))
  const js = match ? `dist/${match[1]}.js` : undefined
  return js !== undefined && existsSync(join(ROOT, js)) ? js : arg
}

/**
 * Whether tap's Test class is built for the plugins .taprc names. Right after `npm ci` it is
 * built for tap's default list, mock included: tap rebuilds it as it starts, but the runner
 * has loaded the old list, and every test process of that run got the default plugins' import
 * hooks (@tapjs/mock's sees every module a test imports: ~0.23 s of CPU per test file, .taprc),
 * in the run CI times. True when it cannot tell: tap then rebuilds as it runs, as before.
 */
async function tapBuiltForConfig() {
  try {
    const testClass = readFileSync(new URL(import.meta.resolve('@tapjs/test/test-built')), 'utf8')
    const built = /^export const signature = `([^`]*)`/m.exec(testClass)?.[1]
    const { TapConfig } = await import('@tapjs/config')
    return built === undefined || built === (await TapConfig.load()).pluginSignature
  } catch {
    return true
  }
}

/** scripts/bundle-sdk.mjs, as a step: its failure printed, never thrown. */
async function bundle() {
  try {
    await bundleSdk()
    return { code: 0 }
  } catch (err) {
    console.error(`npm test: bundling the SDK failed: ${err instanceof Error ? err.message : String(err)}`)
    return { code: 1 }
  }
}

async function main() {
  const checks = [run('eslint', ['.'], true), run('prettier', ['--check', '.'], true)]
  // Beside tsc (one thread), before tap: see tapBuiltForConfig.
  const tapBuild = (await tapBuiltForConfig()) ? undefined : run('tap', ['build'], true)
  const compile = await run('tsc', ['-p', 'tsconfig.test.json'], false)
  // The nodes the tests start import the SDK's bundle, built from what tsc just emitted.
  const build = compile.code === 0 ? await bundle() : compile
  const tapBuilt = await tapBuild
  if (tapBuilt !== undefined && tapBuilt.code !== 0) console.error(`npm test: tap build failed (tap rebuilds as it runs):\n${tapBuilt.output.trimEnd()}`)
  const args = process.argv.slice(2)
  const files = args.some((a) => !a.startsWith('-')) ? args.map(compiled) : [...args, ...sourceTests().map(compiled)]
  const tap = build.code === 0 ? await run('tap', files, false) : { code: 1, skipped: true }
  if (tap.skipped) console.error('npm test: the build failed (above); no tests run')
  let failed = tap.code !== 0
  for (const check of await Promise.all(checks)) {
    if (check.code === 0) {
      console.log(`npm test: ${check.name} passed`)
    } else {
      failed = true
      console.error(`npm test: ${check.name} failed:\n${check.output.trimEnd()}`)
    }
  }
  if (tap.code !== 0 && !tap.skipped) console.error(`npm test: tap failed (exit ${tap.code}${tap.signal ? `, ${tap.signal}` : ''})`)
  return failed ? 1 : 0
}

process.exitCode = await main()
