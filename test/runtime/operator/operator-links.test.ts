/**
 * The wiring of direct links between operators (operator-links.ts): which inputs are links,
 * which outputs feed links only, and which end of a link each launch gets (a waiting one, or a
 * new channel whose other end goes to the running peer, or is dropped for a restarting one).
 * Real MessageChannels: a message posted on an end handed out must arrive at its peer's end.
 */
import t from 'tap'
import { receiveMessageOnPort } from 'node:worker_threads'
import { parseDataflow } from '../../../src/spec/load.js'
import { buildRoutingTable } from '../../../runtime/supervisor/routing.js'
import { OperatorLinks } from '../../../runtime/operator/operator-links.js'
import { LINK_POSTED, LINK_SETTLED, type LinkMessage } from '../../../runtime/operator/messages.js'

function spec(directLinks: boolean) {
  return parseDataflow(
    `${directLinks ? '_unstable_direct_links: true\n' : ''}nodes:
  - id: cam
    operator:
      javascript: ./cam.js
      inputs: { tick: dora/timer/millis/10 }
      outputs: [frame, meta]
  - id: vision
    operators:
      - id: detect
        javascript: ./detect.js
        inputs:
          frame: { source: cam/frame, reliability: best_effort }
          meta: { source: cam/meta, reliability: best_effort }
          errors: { source: cam/_errors, reliability: best_effort }
        outputs: [found]
  - id: logger
    operator:
      javascript: ./logger.js
      inputs:
        meta: cam/meta
        found: vision/detect/found
`,
    '/flows/dataflow.yml',
    { checkFiles: false },
  )
}

/** A stand-in host: keeps what it is given while it "has a worker". */
class End {
  running = true
  readonly got: LinkMessage[] = []
  /** Messages counted lost, per input. */
  readonly lostBy = new Map<string, number>()
  give(link: LinkMessage): boolean {
    if (!this.running) return false
    this.got.push(link)
    return true
  }
  lost(inputId: string, count: number): void {
    this.lostBy.set(inputId, (this.lostBy.get(inputId) ?? 0) + count)
  }
}

/** The links of spec(true), with stand-ins registered for the camera and the detector. */
function registered(): { links: OperatorLinks; cam: End; detect: End } {
  const links = OperatorLinks.of(spec(true))!
  const cam = new End()
  const detect = new End()
  links.register('cam/cam', cam)
  links.register('vision/detect', detect)
  return { links, cam, detect }
}

/** A channel's tally words, as the workers at its ends see them. */
const words = (link: LinkMessage): Int32Array => new Int32Array(link.tally!)

t.test('best-effort inputs between operators are links only when the dataflow opts in, and not from _errors', async (t) => {
  t.equal(OperatorLinks.of(spec(false)), undefined, 'no links without _unstable_direct_links')
  const links = OperatorLinks.of(spec(true))!
  t.ok(links.has('cam/cam') && links.has('vision/detect'), 'both ends are at a link')
  t.ok(links.receives('vision/detect') && !links.receives('cam/cam'), 'only the detector receives')
  t.notOk(links.has('logger/logger'), 'the reliable receiver is at no link')
  const routing = buildRoutingTable(spec(true))
  t.same(
    routing.outputs.get('cam/frame')!.map((d) => [d.inputId, d.direct === true]),
    [['frame', true]],
    'the supervisor routes nothing to a link',
  )
  t.same(
    routing.outputs.get('cam/_errors')!.map((d) => [d.inputId, d.direct === true]),
    [['errors', false]],
    'it still routes the poison reports it sends itself',
  )
})

t.test('each launch gets an end of each of its links; ends pass messages; a restarting peer gets none', async (t) => {
  const { links, cam, detect } = registered()
  detect.running = false
  links.launched('cam/cam')
  t.same(
    cam.got.map((l) => [l.role, l.outputId, l.inputId, l.directOnly]),
    [
      ['out', 'frame', 'frame', true],
      ['out', 'meta', 'meta', false],
    ],
    'the sender gets its ends (meta also feeds a reliable input: not direct-only)',
  )
  // The receiver's first launch takes the ends that waited for it: what was posted arrives.
  cam.got[0]!.port.postMessage('early')
  detect.running = true
  links.launched('vision/detect')
  t.equal(detect.got.length, 2, 'the receiver gets both waiting ends')
  t.equal(receiveMessageOnPort(detect.got[0]!.port)?.message, 'early', 'a message sent before the receiver launched reaches it')
  t.equal(cam.got.length, 2, 'the sender got no new end: the waiting ones were its peers')

  // The receiver restarts: a new channel, its other end to the running sender.
  links.launched('vision/detect')
  t.equal(cam.got.length, 4, 'the running sender gets new ends')
  cam.got[2]!.port.postMessage('after restart')
  t.equal(receiveMessageOnPort(detect.got[2]!.port)?.message, 'after restart', 'the new ends are a pair')

  // The sender restarts while the receiver is down: its peer end is dropped, not kept.
  detect.running = false
  links.launched('cam/cam')
  detect.running = true
  links.launched('vision/detect')
  const last = detect.got.at(-1)!
  cam.got.at(-1)!.port.postMessage('fresh')
  t.equal(receiveMessageOnPort(last.port)?.message, 'fresh', "the receiver's next launch made a channel with the sender's current worker")
  for (const l of [...cam.got, ...detect.got]) l.port.close()
  await links.close()
})

t.test('what a channel lost is counted once its receiver is gone, and again for what was posted into it after', async (t) => {
  const { links, cam, detect } = registered()
  links.launched('cam/cam')
  links.launched('vision/detect')
  const [frameOut, metaOut] = cam.got
  const [frameIn, metaIn] = detect.got
  t.equal(frameOut!.tally, frameIn!.tally, 'both ends of a channel share its tally')
  // frame: the sender posts 10, the receiver handles 6 and drops 1 by its queue rule (both settle).
  Atomics.add(words(frameOut!), LINK_POSTED, 10)
  Atomics.add(words(frameIn!), LINK_SETTLED, 7)
  // meta: the sender posts 5, the receiver has handled 3 when the sender's worker retires.
  Atomics.add(words(metaOut!), LINK_POSTED, 5)
  Atomics.add(words(metaIn!), LINK_SETTLED, 3)
  links.gone('cam/cam', [metaOut!.tally!], Promise.resolve())
  await new Promise((resolve) => setImmediate(resolve))
  t.same([...detect.lostBy], [], 'a sender retiring loses nothing while the receiver lives')
  Atomics.add(words(metaIn!), LINK_SETTLED, 2) // the receiver takes in the 2 left on the link
  // The receiver's worker is retired: counted once its thread has exited.
  let exit!: () => void
  const exited = new Promise<void>((resolve) => (exit = resolve))
  links.gone('vision/detect', [frameIn!.tally!, metaIn!.tally!], exited)
  await new Promise((resolve) => setImmediate(resolve))
  t.same([...detect.lostBy], [], 'not before its thread exited (it could still settle one)')
  exit()
  await exited
  await new Promise((resolve) => setImmediate(resolve))
  t.same([...detect.lostBy], [['frame', 3]], 'the 3 frames posted and never settled are drops of the input; meta lost none')
  // The sender posts 2 more frames into the dead port before it gets the new channel: the run's end counts them.
  Atomics.add(words(frameOut!), LINK_POSTED, 2)
  await links.close()
  t.same([...detect.lostBy], [['frame', 5]], 'the end of the run counts what was posted after, once')
  for (const l of [...cam.got, ...detect.got]) l.port.close()
})

t.test('an end closed before any worker got it loses what is posted to it', async (t) => {
  const { links, cam, detect } = registered()
  detect.running = false
  links.launched('cam/cam')
  t.equal(detect.got.length, 0, "the receiver's ends wait for its first launch")
  // The detector never launches: it ended (a load failure), and its waiting ends are closed.
  Atomics.add(words(cam.got[0]!), LINK_POSTED, 4)
  links.ended('vision/detect')
  t.same([...detect.lostBy], [['frame', 4]], 'what waited for it is lost')
  Atomics.add(words(cam.got[0]!), LINK_POSTED, 1)
  await links.close()
  t.same([...detect.lostBy], [['frame', 5]], 'and what the sender posted after')
  for (const l of cam.got) l.port.close()
})
