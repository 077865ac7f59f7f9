/**
 * The events a run makes from time rather than from nodes: the ticks of `dora/timer/...`
 * inputs, and InputClosed / InputRecovered of `input_timeout`.
 *
 * timers.ts and input-timeouts.ts keep the clocks; this file decides what they mean for a
 * run's receivers (a tick for a full backpressure queue is skipped; a timeout is a warning and
 * an InputClosed), apart from dataflow-run.ts, which only creates, starts and stops them.
 *
 * @module
 */
import type { DeliveredEvent } from '../../src/events.js'
import { InputTimeouts } from './input-timeouts.js'
import type { RoutingTable } from './routing.js'
import { Timer } from './timers.js'
import type { LogEntry } from './unit.js'

/** What a run's clocks act on. */
export interface RunClockTargets {
  dataflowId: string
  routing: RoutingTable
  /** True when `receiver`'s backpressure queue for `inputId` is full. */
  backpressureFull(receiver: string, inputId: string): boolean
  /** False when the input must not be timed out now (see InputTimeoutHooks.mayTimeOut). */
  mayTimeOut(receiver: string, inputId: string): boolean
  deliver(receiver: string, event: DeliveredEvent): void
  notice(level: LogEntry['level'], text: string): void
  /** The name users see for a unit key. */
  nameOf(key: string): string
}

/** The input_timeout clocks of every receiver input that has one. */
export function inputTimeoutsOf(run: RunClockTargets): InputTimeouts {
  return new InputTimeouts(run.routing.inputs, {
    mayTimeOut: (receiver, inputId) => run.mayTimeOut(receiver, inputId),
    timedOut: (receiver, input) => {
      run.notice(
        'warn',
        `${run.nameOf(receiver)}: input "${input.id}" got nothing for ${input.inputTimeout} s (input_timeout); closing it until messages come again`,
      )
      run.deliver(receiver, { type: 'input-closed', id: input.id })
    },
    recovered: (receiver, input) => {
      run.notice('info', `${run.nameOf(receiver)}: input "${input.id}" recovered`)
      run.deliver(receiver, { type: 'input-recovered', id: input.id })
    },
  })
}

/** Start one timer per distinct `dora/timer` source, ticking into every input it feeds. */
export function startTimers(run: RunClockTargets): Timer[] {
  const timers: Timer[] = []
  for (const route of run.routing.timers) {
    const timer = new Timer(route.name, route.intervalNs, run.dataflowId, (tick) => {
      for (const dest of route.destinations) {
        // A timer cannot be slowed down: a tick for a full backpressure queue is skipped.
        if (run.backpressureFull(dest.receiver, dest.inputId)) continue
        run.deliver(dest.receiver, { type: 'input', id: dest.inputId, header: tick.header, data: new Uint8Array(0) })
      }
    })
    timers.push(timer)
    timer.start()
  }
  return timers
}
