// A plain-JavaScript operator written as a class: doubles every count it receives.
import { decodeJson } from 'dora-ts'

export default class Doubler {
  onInput(input, ctx) {
    ctx.sendJson('doubled', decodeJson(input.data) * 2, { parameters: { source: input.metadata.senderOperator } })
  }
}
