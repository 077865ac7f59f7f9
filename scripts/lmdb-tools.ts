/**
 * Builds `mdb_stat` and `mdb_dump` from the LMDB sources bundled in lmdb-js.
 *
 * Why not Debian's lmdb-utils: it is LMDB 0.9.x, which reads data format 1 only; lmdb-js 3.x
 * embeds LMDB 0.9.90 (data format 2), so /usr/bin/mdb_stat answers "MDB_INVALID: File is not
 * an LMDB file" for every store dora-ts writes. Tools built from lmdb-js's own copy of LMDB
 * read them. Building takes a few seconds and needs make and a C compiler.
 *
 * `npm run lmdb-tools` builds them into `.dora-ts/bin/`.
 */
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, copyFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { errorMessage } from '../src/errors.js'

export interface LmdbTools {
  mdbStat: string
  mdbDump: string
}

/** Build the tools in `workDir`; throws an Error saying what to install when it cannot. */
export function buildLmdbTools(workDir: string): LmdbTools {
  // The package's "import" entry (node-index.js) sits at its root.
  const lmdbRoot = dirname(fileURLToPath(import.meta.resolve('lmdb')))
  const sources = join(lmdbRoot, 'dependencies', 'lmdb', 'libraries', 'liblmdb')
  if (!existsSync(join(sources, 'mdb_stat.c'))) throw new Error(`the LMDB sources are missing from ${sources}; reinstall the lmdb package`)
  for (const tool of ['make', 'cc']) {
    const probe = spawnSync(tool, ['--version'], { encoding: 'utf8' })
    if (probe.error !== undefined || probe.status !== 0) {
      throw new Error(
        `"${tool}" is missing: install make and a C compiler (Debian: apt-get install build-essential) to build mdb_stat/mdb_dump matching lmdb-js's data format`,
      )
    }
  }
  const build = join(workDir, 'liblmdb')
  cpSync(sources, build, { recursive: true })
  const make = spawnSync('make', ['-C', build, '-j4', 'CC=cc', 'W=-w', 'mdb_stat', 'mdb_dump'], { encoding: 'utf8' })
  if (make.status !== 0) throw new Error(`building mdb_stat/mdb_dump from ${sources} failed:\n${make.stderr}`)
  return { mdbStat: join(build, 'mdb_stat'), mdbDump: join(build, 'mdb_dump') }
}

// `node dist/scripts/lmdb-tools.js [DIR]`: build and install the tools into DIR.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const target = resolve(process.argv[2] ?? join('.dora-ts', 'bin'))
  mkdirSync(target, { recursive: true })
  try {
    const tools = buildLmdbTools(join(target, '.build'))
    copyFileSync(tools.mdbStat, join(target, 'mdb_stat'))
    copyFileSync(tools.mdbDump, join(target, 'mdb_dump'))
    console.log(`built ${join(target, 'mdb_stat')} and ${join(target, 'mdb_dump')}`)
  } catch (err) {
    console.error(errorMessage(err))
    process.exitCode = 1
  }
}
