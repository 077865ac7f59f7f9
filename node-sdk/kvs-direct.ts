/**
 * The KVS opened in this process, on its LMDB environment: for custom nodes (`node.kvs`) and
 * scripts (`openKvs`). Kept apart from kvs.ts so that an operator's worker, which reaches the
 * KVS through the supervisor's KVS thread, never loads lmdb.
 *
 * @module
 */
import { DEFAULT_KVS_MAP_SIZE_BYTES, defaultKvsDir, KvsStore } from '../src/store/kvs/store.js'
import { createKvs, type Kvs, type KvsConfig, type KvsSource } from './kvs.js'

/** Open the store in this process (custom nodes, tools): the LMDB environment itself. */
export function directSource(config: KvsConfig): KvsSource {
  return { dir: config.dir, namespace: config.namespace, open: () => KvsStore.open({ dir: config.dir, mapSizeBytes: config.mapSizeBytes }) }
}

/** Options of {@link openKvs}. */
export interface OpenKvsOptions {
  /** The KVS directory; default `$DORA_TS_KVS_DIR`, else `$XDG_STATE_HOME/dora-ts/kvs`, else `~/.local/state/dora-ts/kvs`. */
  dir?: string
  /** Size limit in bytes; default 1 GiB. */
  mapSizeBytes?: number
  /** The namespace to start on (required). */
  namespace: string
}

/**
 * Open the KVS outside a dataflow (a script, a test, a tool). Nodes and operators get theirs
 * as `node.kvs` and `ctx.kvs`, configured by the supervisor.
 * @example const kvs = openKvs({ namespace: 'robot' }); kvs.readJson('settings/max-speed')
 */
export function openKvs(options: OpenKvsOptions): Kvs {
  return createKvs(
    directSource({ dir: options.dir ?? defaultKvsDir(), mapSizeBytes: options.mapSizeBytes ?? DEFAULT_KVS_MAP_SIZE_BYTES, namespace: options.namespace }),
  )
}
