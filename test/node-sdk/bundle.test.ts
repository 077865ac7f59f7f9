/**
 * The SDK a node imports is dist/node-sdk/bundle.js (scripts/bundle-sdk.mjs): one module where
 * tsc emits ~90. It must be what dist/ builds to now, or every node a test starts would run
 * an older SDK than the code under test; and it must be the same SDK: what the package
 * exports for nodes, with error classes that keep their names and codes.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { build, type BuildOptions } from 'esbuild'
import { ROOT } from '../fixtures/paths.js'

const BUNDLE = join(ROOT, 'dist', 'node-sdk', 'bundle.js')

t.test('the bundle on disk is what dist/ builds to (else: npm run build)', async (t) => {
  const { bundleOptions } = (await import(pathToFileURL(join(ROOT, 'scripts', 'bundle-sdk.mjs')).href)) as {
    bundleOptions(root: string): BuildOptions
  }
  const result = await build({ ...bundleOptions(ROOT), write: false })
  const built = result.outputFiles.find((file) => file.path === BUNDLE)
  t.ok(built, 'esbuild builds the bundle')
  t.ok(built !== undefined && built.text === readFileSync(BUNDLE, 'utf8'), 'dist/node-sdk/bundle.js is stale: run `npm run build` (tsc, then the SDK bundle)')
})

t.test("the package's name resolves to the bundle for a node, to the unbundled operator entry for a worker", (t) => {
  const resolve = (conditions: string[]) => {
    const args = [...conditions.map((c) => `--conditions=${c}`), '--input-type=module', '-e', "process.stdout.write(import.meta.resolve('dora-ts'))"]
    const result = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 30_000 })
    t.equal(result.status, 0, result.stderr)
    return result.stdout
  }
  t.equal(resolve([]), pathToFileURL(BUNDLE).href)
  t.equal(resolve(['dora-ts-operator']), pathToFileURL(join(ROOT, 'dist', 'node-sdk', 'operator-entry.js')).href)
  t.end()
})

t.test('the bundle exports what the unbundled SDK does, and its errors keep their names and codes', async (t) => {
  const bundled = (await import(pathToFileURL(BUNDLE).href)) as Record<string, unknown>
  const unbundled = (await import(pathToFileURL(join(ROOT, 'dist', 'node-sdk', 'index.js')).href)) as Record<string, unknown>
  t.same(Object.keys(bundled).sort(), Object.keys(unbundled).sort(), 'the same exports')
  // Node.connect() outside a dataflow fails with the SDK's own error, named as in the source.
  const Node = bundled['Node'] as { connect(options?: object): Promise<unknown> }
  const saved = { ...process.env }
  for (const key of Object.keys(process.env)) if (key.startsWith('DORA_')) delete process.env[key]
  t.teardown(() => Object.assign(process.env, saved))
  const err = (await Node.connect().then(
    () => undefined,
    (e: unknown) => e,
  )) as { name?: string; code?: string; constructor?: { name: string } } | undefined
  t.equal(err?.code, 'DORA_NODE_CONNECT')
  t.equal(err?.constructor?.name, 'NodeConnectError', 'the class keeps its name (keepNames)')
})
