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
 *
 * How much it smooths is a shared setting in the KVS (`smoothing`, the weight of the newest
 * scan, 0 < w <= 1; default 0.4), read on every scan through ctx.kvs, so it can be tuned while
 * it runs: `npx dora-ts kvs put -n robot smoothing 0.9`.
 */
import { defineOperator, asTypedArray, decodeText, msgpack } from 'dora-ts'

const DEFAULT_SMOOTHING = 0.4

const crashEvery = Number(process.env['CRASH_EVERY'] ?? '0')

export default defineOperator(() => {
  let smoothed: number | undefined
  let lastWeight = DEFAULT_SMOOTHING
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
      const setting = ctx.kvs.read('smoothing')
      const weight = setting === undefined ? DEFAULT_SMOOTHING : Number(decodeText(setting))
      const w = weight > 0 && weight <= 1 ? weight : DEFAULT_SMOOTHING
      if (w !== lastWeight) ctx.log.info(`smoothing is now ${w}${w === weight ? '' : ` (${decodeText(setting!)} is not in (0, 1])`}`)
      lastWeight = w
      smoothed = smoothed === undefined ? nearest : (1 - w) * smoothed + w * nearest
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
