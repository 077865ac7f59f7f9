/**
 * The environment for a thread or process of dora-ts's own (an operator worker, the KVS
 * thread, the reaper, an LMDB probe or repair): this process's, without NODE_OPTIONS.
 *
 * Why: NODE_OPTIONS carries the host's preloads (`--import` of tsx, of a test runner's process
 * tracking or coverage, of an APM agent) and a worker thread honours the NODE_OPTIONS of its
 * `env` as a process does. Each would run again in every operator thread and put its module
 * hooks in front of every module it loads: under tap (whose process-info import rides in
 * NODE_OPTIONS) 8 threads took 26 s to start instead of 10 s at load ~9 on the 2-core
 * machine, 4.8 s of CPU against 2.4 s. The same reason the operator thread gets none of the
 * host's execArgv (runtime/operator/worker-launch.ts). A node's own `env: NODE_OPTIONS` in
 * the dataflow YAML is the author's choice and is kept by the caller.
 *
 * @module
 */
export function withoutNodeOptions(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const rest = { ...env }
  delete rest['NODE_OPTIONS']
  return rest
}
