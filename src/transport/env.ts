/**
 * The environment variables through which the supervisor tells a custom node how to reach it.
 * Only the endpoint and the node's id travel this way; everything else (inputs, outputs,
 * restart count, store paths) is handed over at registration, so a node never guesses.
 */
export const ENV_ENDPOINT = 'DORA_TS_ENDPOINT'
export const ENV_NODE_ID = 'DORA_TS_NODE_ID'
export const ENV_DATAFLOW_ID = 'DORA_TS_DATAFLOW_ID'
/**
 * A secret made for each spawn of a custom node, presented at registration: it binds the
 * registration to the process the supervisor started, so another process cannot register
 * first under the node's id (see src/security/node-secret.ts).
 */
export const ENV_NODE_SECRET = 'DORA_TS_NODE_SECRET'
/**
 * Pid of the supervisor. The node SDK watches it to end a node's events with `stop` when the
 * supervisor dies; ending the node's process is the run's reaper's job (runtime/supervisor/reaper.ts).
 */
export const ENV_SUPERVISOR_PID = 'DORA_TS_SUPERVISOR_PID'
