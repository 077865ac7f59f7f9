// The SDK a custom node imports, as one file: dist/node-sdk/bundle.js, built from what tsc
// emitted (dist/node-sdk/index.js and the ~90 modules it imports), with esbuild.
//
// Why: a node's process loads the SDK at every start and every restart after a crash, and
// loading ~90 small ES modules costs more than what is in them: Node resolves, reads and links
// each one (~50 ms of a ~120 ms import on the 2-core VM), and under tsx's loader, which every
// `.ts` node runs with, each module also makes a round trip to the loader's thread (~145 ms).
// One module is one of each. The package's default export points at the bundle; an operator's
// worker keeps the unbundled operator entry (the `dora-ts-operator` condition), and the
// runtime imports its modules as they are.
//
// Packages stay imports (zeromq, and lmdb-js and msgpackr, which load on first use), so a
// project's node_modules serves them as it does the runtime. `keepNames`: error classes are
// registered by name (src/errors.ts). The source map goes back through tsc's maps to the
// TypeScript sources.
//
// `npm run build`, `npm test`, `npm run bench` and `npm run torture` run this after tsc;
// test/node-sdk/bundle.test.ts fails when the file on disk is not what dist/ builds to.
import { build } from 'esbuild'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

/** esbuild's options for the bundle; `write: false` builds it in memory (the freshness test). */
export function bundleOptions(root = ROOT) {
  return {
    entryPoints: [join(root, 'dist', 'node-sdk', 'index.js')],
    outfile: join(root, 'dist', 'node-sdk', 'bundle.js'),
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    logLevel: 'error',
  }
}

/** Build dist/node-sdk/bundle.js (and its .map) from dist/. */
export async function bundleSdk(root = ROOT) {
  await build(bundleOptions(root))
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundleSdk()
