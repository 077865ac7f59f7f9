/**
 * Finds the bright target in each frame (operator): the centre of the pixels brighter than 200,
 * sent as JSON on `target`. Its input is best effort with queue_size 1, so when it falls behind
 * it gets the newest frame, not a backlog, and a frame in flight when it crashes is simply
 * gone (`dora-ts list` counts it in DROPPED). Set CRASH_EVERY=N to make it crash on every Nth
 * frame and watch it come back on the next one.
 */
import { defineOperator } from 'dora-ts'

const crashEvery = Number(process.env['CRASH_EVERY'] ?? '0')

export default defineOperator(() => {
  let seen = 0
  return {
    onInput(input, ctx) {
      const width = Number(input.metadata.parameters['width'])
      const frame = Number(input.metadata.parameters['frame'])
      seen++
      if (crashEvery > 0 && seen % crashEvery === 0) throw new Error(`simulated crash on frame ${frame} (CRASH_EVERY=${crashEvery})`)
      const pixels = input.data
      let sumX = 0
      let sumY = 0
      let count = 0
      // Every 4th pixel of every 4th row is plenty for a 40 x 40 target.
      for (let y = 0; y < pixels.length / 3 / width; y += 4) {
        for (let x = 0; x < width; x += 4) {
          if (pixels[(y * width + x) * 3]! > 200) {
            sumX += x
            sumY += y
            count++
          }
        }
      }
      ctx.sendJson('target', count === 0 ? { frame, found: false } : { frame, found: true, x: Math.round(sumX / count), y: Math.round(sumY / count) })
    },
  }
})
