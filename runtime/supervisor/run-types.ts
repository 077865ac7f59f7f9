/**
 * What a caller of `DataflowRun` (dataflow-run.ts) hands it and gets back: the run's options, and how the
 * run ended (per unit, and the messages drop_oldest queues dropped).
 *
 * Apart from dataflow-run.ts because the CLI, the daemon and the benchmarks depend on these
 * shapes and not on how a run works; dataflow-run.ts re-exports them.
 *
 * @module
 */
import type { LogEntry } from './unit.js'

export interface RunOptions {
  /** How long nodes get to handle Stop before SIGTERM (default 10 s). */
  graceMs?: number
  /** Stop the dataflow after this long (dora's `--stop-after`). */
  stopAfterMs?: number
  /** Where log lines go (node output, operator logs, supervisor notices). */
  log?: (entry: LogEntry) => void
  /** Dataflow id; a random UUID by default. */
  dataflowId?: string
  /**
   * Root of operator state; the dataflow's store is `<stateDir>/<dataflow name>`. Default: the
   * YAML's `state_dir`, else `.dora-ts/state` next to the YAML.
   */
  stateDir?: string
  /** Start from empty state on purpose (`--clean-state`). */
  cleanState?: boolean
  /** Directory for the run's private socket directory (default: see `runRoot()`). */
  runtimeDir?: string
  /**
   * The machine's shared KVS directory, handed to every node and operator (`--kvs-dir`).
   * Default: `$DORA_TS_KVS_DIR`, else `$XDG_STATE_HOME/dora-ts/kvs`, else `~/.local/state/dora-ts/kvs`.
   */
  kvsDir?: string
  /** Size limit of the KVS in bytes, handed to every node and operator (default 1 GiB). */
  kvsMapSizeBytes?: number
  /** How long an operator may take to load, or to handle one event, before the run says so (default 10 s: SLOW_WARNING_S in operator/host.ts). */
  operatorWarningMs?: number
}

export interface UnitReport {
  unit: string
  status: 'finished' | 'failed'
  error?: string | undefined
  stderrTail: string[]
}

export interface RunResult {
  /** True when every node finished without failing. */
  ok: boolean
  /** Why the run ended. */
  reason: 'completed' | 'stopped' | 'stop-after' | 'start-failed'
  units: UnitReport[]
  /** Messages dropped by drop_oldest queues, per `receiver/input`. */
  dropped: Record<string, number>
}
