/** Counts timer ticks and sends the running count as JSON. */
import { defineOperator } from 'dora-ts'

export default defineOperator(() => {
  let count = 0
  return {
    onInput(_input, ctx) {
      count++
      ctx.sendJson('count', count)
    },
  }
})
