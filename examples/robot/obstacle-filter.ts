/**
 * Obstacle filter (operator, runs in a worker thread inside the supervisor): finds the nearest
 * return of each scan and smooths it with an exponential moving average, so one noisy beam
 * does not make the robot brake.
 */
import { defineOperator, asTypedArray } from 'dora-ts'

export default defineOperator(() => {
  let smoothed: number | undefined
  return {
    onInput(input, ctx) {
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
      ctx.sendJson('nearest', { distance: Number(smoothed.toFixed(3)), beam, scan: Number(input.metadata.sequence) })
    },
  }
})
