/**
 * Events delivered to operators and custom nodes, modelled on dora's `Event`. The model itself
 * lives in `src/events.ts` (shared with the supervisor); this module is the SDK's view of it.
 * The union is open: code that switches on `type` must ignore kinds it does not know, so the
 * protocol can grow without breaking existing nodes.
 */
import type { MetadataValue } from '../src/events.js'

export type {
  DoraEvent,
  ErrorEvent,
  InputClosedEvent,
  InputEvent,
  InputMetadata,
  InputRecoveredEvent,
  MetadataValue,
  NodeFailedEvent,
  NodeRestartedEvent,
  StopCause,
  StopEvent,
} from '../src/events.js'

/** Options for sending an output. */
export interface SendOptions {
  /** Metadata parameters to attach. */
  parameters?: Record<string, MetadataValue>
  /** Declared payload encoding; defaults to `raw` (the JSON helpers set `json`). */
  encoding?: string
}
