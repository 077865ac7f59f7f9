/**
 * Dataflow YAML: load, validate and resolve it into a {@link DataflowSpec}; the JSON Schema
 * for editors. The runtime and the CLI import from here.
 *
 * @module
 */

export type * from './types.js'
export { loadDataflow, parseDataflow, type LoadOptions } from './load.js'
export * from './errors.js'
export { buildDataflowSchema } from './schema.js'
export { parseTimer } from './timer.js'
export { parseDuration } from './duration.js'
export { splitShellWords } from './shell-words.js'
export { DEFAULT_HEALTH_CHECK_INTERVAL, DEFAULT_MAX_REDELIVERIES, DEFAULT_DURABILITY, RESTART_DEFAULTS } from './resolve.js'
export { DEFAULT_QUEUE_SIZE } from './validate.js'
