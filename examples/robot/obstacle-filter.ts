/**
 * Obstacle filter (operator, runs in a worker thread inside the supervisor): finds the nearest
 * return of each scan and smooths it with an exponential moving average, so one noisy beam
 * does not make the robot brake.
 *
 * Its memory (the smoothed distance and how many scans it has processed) is saved with
 * saveState on every scan, so it survives crashes and restarts of the dataflow. Set
 * CRASH_EVERY=N to make it crash on every Nth scan and watch it come back: the supervisor
 * restarts it, restoreState hands back the state of the last completed scan, and the scan that
 * crashed it is delivered again (marked redelivered), so no scan is lost or counted twice.
 */
import { defineOperator, asTypedArray, msgpack } from 'dora-ts'

const crashEvery = Number(process.env['CRASH_EVERY'] ?? '0')

export default defineOperator(() => {
  let smoothed: number | undefined
  let processed = 0
  return {
    restoreState(state, ctx) {
      processed = msgpack.decode<number>(state.get('processed')!)
      smoothed = state.has('smoothed') ? msgpack.decode<number>(state.get('smoothed')!) : undefined
      ctx.log.info(`restored: ${processed} scans processed so far (restart ${ctx.restartCount})`)
    },
    onInput(input, ctx) {
      if (crashEvery > 0 && (processed + 1) % crashEvery === 0 && !input.metadata.redelivered) {
        throw new Error(`simulated crash on scan ${processed + 1} (CRASH_EVERY=${crashEvery})`)
      }
      const ranges = asTypedArray(Float32Array, input.data)
      let nearest = Infinity
      let beam = -1
      ranges.forEach((range, i) => {
        if (range < nearest) {
          nearest = range
          beam = i
        }
      })
      smoothed = smoothed === undefined ? nearest : 0.6 * smoothed + 0.4 * nearest
      processed++
      // Both keys commit together when this handler returns: never one without the other.
      ctx.saveState('processed', msgpack.encode(processed))
      ctx.saveState('smoothed', msgpack.encode(smoothed))
      ctx.sendJson('nearest', {
        distance: Number(smoothed.toFixed(3)),
        beam,
        processed,
        redelivered: input.metadata.redelivered,
      })
    },
  }
})
