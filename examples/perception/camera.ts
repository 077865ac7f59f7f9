/**
 * A fake camera (operator): on every tick, a grey RGB frame (WIDTH x HEIGHT x 3 bytes, 900 KiB
 * at 640x480) with a bright 40 x 40 target that moves 8 pixels right per frame, sent on `frame`
 * with `transfer: true`: the bytes move out of this worker instead of being copied, and over
 * the best-effort link they move on into the detector's worker the same way. The frame number
 * is saved with each frame, so it goes on where it was after a crash or in the next run.
 */
import { defineOperator, msgpack } from 'dora-ts'

const WIDTH = 640
const HEIGHT = 480
const TARGET = 40

export default defineOperator(() => {
  let n = 0
  return {
    restoreState(state) {
      const saved = state.get('frame')
      if (saved !== undefined) n = msgpack.decode<number>(saved)
    },
    onInput(_input, ctx) {
      n++
      ctx.saveState('frame', msgpack.encode(n))
      const frame = new Uint8Array(WIDTH * HEIGHT * 3).fill(0x20)
      const left = (n * 8) % (WIDTH - TARGET)
      const top = 200
      for (let y = top; y < top + TARGET; y++) frame.fill(0xff, (y * WIDTH + left) * 3, (y * WIDTH + left + TARGET) * 3)
      ctx.send('frame', frame, { transfer: true, parameters: { frame: n, width: WIDTH, height: HEIGHT, encoding: 'rgb8' } })
    },
  }
})
