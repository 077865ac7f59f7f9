/**
 * The environment variables through which the supervisor tells a custom node how to reach it.
 * Only the endpoint and the node's id travel this way; everything else (inputs, outputs,
 * restart count, store paths) is handed over at registration, so a node never guesses.
 */
export const ENV_ENDPOINT = 'DORA_TS_ENDPOINT'
export const ENV_NODE_ID = 'DORA_TS_NODE_ID'
export const ENV_DATAFLOW_ID = 'DORA_TS_DATAFLOW_ID'
/**
 * Pid of the supervisor. The node SDK watches it to end a node's events with `stop` when the
 * supervisor dies; ending the node's process is the run's reaper's job (runtime/supervisor/reaper.ts).
 */
export const ENV_SUPERVISOR_PID = 'DORA_TS_SUPERVISOR_PID'
