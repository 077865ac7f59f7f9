/**
 * What a custom node pays to start: `import ... from 'dora-ts'` loads zeromq (every node
 * talks to the supervisor) and nothing else native; lmdb-js and msgpackr load when the
 * program first uses the KVS or the msgpack codec. A restarted node pays its start again on
 * every crash, and most nodes never open the KVS (src/store/lmdb/lmdb-js.ts).
 *
 * Each probe is a fresh node process that imports the SDK by its package name, as a node does
 * (the package's own exports resolve it), and reports the native addons it dlopen'ed and the
 * CommonJS modules in its require cache: lmdb-js and msgpackr are loaded through `require`,
 * and an `import` of either would dlopen their addons (lmdb's, msgpackr-extract's).
 */
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../fixtures/paths.js'

interface Loaded {
  addons: string[]
  required: string[]
}

/** Run `body` after importing the SDK in a fresh node; what it loaded, by package. */
function probe(t: Test, body: string): Loaded {
  const source = `
    import { createRequire } from 'node:module'
    const addons = []
    const dlopen = process.dlopen
    process.dlopen = function (module, file, ...rest) { addons.push(file); return dlopen.call(this, module, file, ...rest) }
    const sdk = await import('dora-ts')
    ${body}
    const required = Object.keys(createRequire(import.meta.url).cache)
    process.stdout.write(JSON.stringify({ addons, required }))
  `
  // From the package's own folder: a package resolves its own name through its exports.
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', source], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  t.equal(result.status, 0, result.stderr)
  return JSON.parse(result.stdout) as Loaded
}

/** The packages (folder under node_modules) a list of paths belongs to. */
function packages(paths: string[]): string[] {
  const names = paths.flatMap((path) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1] ?? [])
  return [...new Set(names)].sort()
}

t.test('importing the SDK loads zeromq and no other native addon, and neither lmdb-js nor msgpackr', (t) => {
  const loaded = probe(t, '')
  t.same(packages(loaded.addons), ['zeromq'], 'zeromq is the one native addon')
  t.notOk(
    packages(loaded.required).some((name) => name === 'lmdb' || name === 'msgpackr'),
    `nothing of lmdb-js or msgpackr required: ${packages(loaded.required).join(', ')}`,
  )
  t.end()
})

t.test('the KVS loads lmdb-js when a program opens it, and the msgpack codec loads msgpackr when used', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dora-start-cost-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const loaded = probe(
    t,
    `const kvs = sdk.openKvs({ namespace: 'probe', dir: ${JSON.stringify(join(dir, 'kvs'))} })
     kvs.writeJson('k', 1)
     if (kvs.readJson('k') !== 1) throw new Error('the KVS did not read back what was written')
     kvs.close()
     if (sdk.msgpack.decode(sdk.msgpack.encode({ a: 1 })).a !== 1) throw new Error('msgpack did not round-trip')`,
  )
  t.ok(
    packages(loaded.addons).some((name) => name.startsWith('@lmdb/')),
    `lmdb's addon (@lmdb/lmdb-<platform>) loaded: ${packages(loaded.addons).join(', ')}`,
  )
  t.ok(packages(loaded.required).includes('msgpackr'), 'msgpackr required')
  t.ok(packages(loaded.required).includes('lmdb'), 'lmdb-js required (its CommonJS build)')
  t.end()
})
