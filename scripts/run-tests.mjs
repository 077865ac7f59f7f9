// `npm test`: compile, then lint, check the formatting and run the tests side by side.
//
// tsc comes first and alone: it type-checks everything and emits dist/, which the tests that
// start workers, nodes and the CLI run. eslint and prettier need nothing from the tests, and
// most test files spend their time waiting on child processes, workers and sockets, so the
// two checks (~55 s of CPU on the 2-core machine: eslint's type-aware rules build a program of
// their own) mostly run in the CPU the tests leave idle instead of before them. Their output
// is held back until tap is done, so it is not lost in the tests' report; any step that fails
// fails the run. Arguments go to tap (`npm test -- test/x.test.ts`).
//
// Not named test.mjs: tap's default include takes any `test.mjs` for a test file, and ran this
// one, which ran tap again.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

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

async function main() {
  const build = await run('tsc', ['-p', 'tsconfig.test.json'], false)
  if (build.code !== 0) {
    console.error('npm test: tsc failed (above); no tests run')
    return 1
  }
  const checks = [run('eslint', ['.'], true), run('prettier', ['--check', '.'], true)]
  const tap = await run('tap', process.argv.slice(2), false)
  let failed = tap.code !== 0
  for (const check of await Promise.all(checks)) {
    if (check.code === 0) {
      console.log(`npm test: ${check.name} passed`)
    } else {
      failed = true
      console.error(`npm test: ${check.name} failed:\n${check.output.trimEnd()}`)
    }
  }
  if (tap.code !== 0) console.error(`npm test: tap failed (exit ${tap.code}${tap.signal ? `, ${tap.signal}` : ''})`)
  return failed ? 1 : 0
}

process.exitCode = await main()
