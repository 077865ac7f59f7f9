import t from 'tap'
import { breakCycles } from '../../../../runtime/tools/graph/cycles.js'

const edges = (...pairs: string[]): { from: string; to: string }[] =>
  pairs.map((p) => {
    const [from, to] = p.split('>')
    return { from: from!, to: to! }
  })

/** Every edge not marked back runs forward in `order`. */
function forwardInOrder(order: string[], list: { from: string; to: string }[], back: boolean[]): boolean {
  const at = new Map(order.map((n, i) => [n, i]))
  return list.every((e, i) => back[i] || at.get(e.from)! < at.get(e.to)!)
}

t.test('a chain has no back edge and keeps its order', async (t) => {
  const list = edges('a>b', 'b>c')
  t.same(breakCycles(['c', 'b', 'a'], list), { back: [false, false], order: ['a', 'b', 'c'] })
})

t.test('the edge back towards the sources closes the cycle, and self-loops do', async (t) => {
  const list = edges('t>a', 'a>b', 'b>c', 'c>a', 'b>b')
  const { back, order } = breakCycles(['t', 'a', 'b', 'c'], list)
  t.same(back, [false, false, false, true, true])
  t.ok(forwardInOrder(order, list, back))
})

t.test('a source fed back by a later node stays first (the camera before its tracker)', async (t) => {
  // Timers feed lidar and camera; the tracker, reached from the lidar first, feeds the camera back.
  const nodes = ['t1', 't2', 'lidar', 'camera', 'detector', 'tracker']
  const list = edges('t1>lidar', 't2>camera', 'lidar>detector', 'camera>detector', 'detector>tracker', 'tracker>camera')
  const { back, order } = breakCycles(nodes, list)
  t.same(back, [false, false, false, false, false, true], 'tracker -> camera is the feedback, not camera -> detector')
  t.ok(order.indexOf('camera') < order.indexOf('tracker'))
})

t.test('an edge to a node as near the sources is forward when it closes no cycle', async (t) => {
  const list = edges('s>a', 's>b', 'a>b')
  t.same(breakCycles(['s', 'a', 'b'], list).back, [false, false, false])
})

t.test('a cycle nothing enters, and edges to unknown nodes', async (t) => {
  const list = edges('x>y', 'y>x', 'x>nowhere')
  const { back, order } = breakCycles(['x', 'y'], list)
  t.same(back, [false, true, false])
  t.same(order, ['x', 'y'])
})

t.test('many random graphs: the rest is acyclic, every back edge closes a cycle', async (t) => {
  let seed = 7
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31
    return seed / 2 ** 31
  }
  for (let round = 0; round < 50; round++) {
    const count = 2 + Math.floor(random() * 20)
    const nodes = Array.from({ length: count }, (_, i) => `n${i}`)
    const list = Array.from({ length: Math.floor(random() * count * 3) }, () => ({
      from: nodes[Math.floor(random() * count)]!,
      to: nodes[Math.floor(random() * count)]!,
    }))
    const { back, order } = breakCycles(nodes, list)
    t.equal(order.length, count, `round ${round}: every node is ordered`)
    t.ok(forwardInOrder(order, list, back), `round ${round}: the other edges run forward`)
    // A back edge u -> v closes a cycle: v reaches u.
    list.forEach((e, i) => {
      if (!back[i]) return
      const seen = new Set([e.to])
      const stack = [e.to]
      while (stack.length > 0) {
        const id = stack.pop()!
        for (const f of list) {
          if (f.from !== id || seen.has(f.to)) continue
          seen.add(f.to)
          stack.push(f.to)
        }
      }
      if (!seen.has(e.from)) t.fail(`round ${round}: ${e.from} -> ${e.to} is marked back but closes no cycle`)
    })
  }
})
