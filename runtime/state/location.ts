/**
 * Where a dataflow's operator state lives, in one place so `dora-ts run` and `dora-ts state`
 * agree: the root is `--state-dir`, else the YAML's `state_dir`, else `.dora-ts/state` next to
 * the YAML; the dataflow's store is `<root>/<dataflow name>`.
 */
import { join, resolve } from 'node:path'
import type { DataflowSpec } from '../../src/spec/types.js'

/** The folder under {@link stateRootOf} where `dora-ts state snapshot` keeps snapshots. */
export const SNAPSHOTS_DIR = '.snapshots'

/** Root of operator state for `spec`; `override` is `--state-dir` (absolute or relative to the cwd). */
export function stateRootOf(spec: Pick<DataflowSpec, 'baseDir' | 'stateDir'>, override?: string): string {
  if (override !== undefined) return resolve(override)
  return spec.stateDir ?? join(spec.baseDir, '.dora-ts', 'state')
}

/** The state store directory of `spec`: `<root>/<dataflow name>`. */
export function stateDirOf(spec: Pick<DataflowSpec, 'baseDir' | 'stateDir' | 'name'>, override?: string): string {
  return join(stateRootOf(spec, override), spec.name)
}
