/**
 * Which connections close a cycle. Dataflows loop on purpose (a planner's mode back to the
 * lidar, a tracker's exposure back to the camera), and a left-to-right drawing can run the
 * other edges forward only once those are set aside. Both outputs of `dora-ts graph` mark the
 * same edges (dashed in the page, dotted in Mermaid), and the layout gives ELK the boxes in
 * {@link CycleBreak.order}, so that ELK reverses exactly these edges and no others.
 */

/** The result of {@link breakCycles}. */
export interface CycleBreak {
  /** One flag per edge, in input order: true when the edge closes a cycle (self-loops included). */
  back: boolean[]
  /** Every node, in an order in which each edge that is not `back` runs forward. */
  order: string[]
}

/**
 * Sets aside the edges that close a cycle, choosing the ones a reader sees as feedback: every
 * node gets its distance from the sources (the nodes nothing feeds, usually timer-driven
 * sensors); an edge to a farther node runs forward; an edge to a node as near or nearer runs
 * forward too unless its target already reaches its source, and then it is a back edge (those
 * that follow the order of `nodes` are kept first). So
 * every back edge really closes a cycle, and the others form no cycle. A depth-first search
 * would follow the first loop it meets and could put a camera after its own tracker.
 * Deterministic: the same nodes and edges in the same order give the same answer.
 *
 * @example
 * breakCycles(['a', 'b'], [{ from: 'a', to: 'b' }, { from: 'b', to: 'a' }])
 * // { back: [false, true], order: ['a', 'b'] }
 */
export function breakCycles(nodes: readonly string[], edges: readonly { from: string; to: string }[]): CycleBreak {
  const index = new Map(nodes.map((n, i) => [n, i]))
  const valid = edges.map((e) => index.has(e.from) && index.has(e.to))
  const out = new Map<string, number[]>(nodes.map((n) => [n, []]))
  const fed = new Set<string>()
  edges.forEach((e, i) => {
    if (!valid[i]) return
    out.get(e.from)!.push(i)
    if (e.from !== e.to) fed.add(e.to)
  })

  // Distance from the sources; a cycle nothing enters starts from its first node in `nodes`.
  const depth = new Map<string, number>()
  const queue: string[] = []
  const spread = (): void => {
    for (let q = 0; q < queue.length; q++) {
      const id = queue[q]!
      for (const i of out.get(id)!) {
        const to = edges[i]!.to
        if (depth.has(to)) continue
        depth.set(to, depth.get(id)! + 1)
        queue.push(to)
      }
    }
  }
  for (const n of nodes) {
    if (fed.has(n)) continue
    depth.set(n, 0)
    queue.push(n)
  }
  spread()
  for (const n of nodes) {
    if (depth.has(n)) continue
    depth.set(n, 0)
    queue.push(n)
    spread()
  }

  const back = edges.map(() => false)
  const forward = new Map<string, string[]>(nodes.map((n) => [n, []]))
  const sideways: number[] = []
  edges.forEach((e, i) => {
    if (!valid[i]) return
    if (depth.get(e.to)! > depth.get(e.from)!) forward.get(e.from)!.push(e.to)
    else sideways.push(i)
  })
  const againstOrder = (i: number): number => (index.get(edges[i]!.from)! < index.get(edges[i]!.to)! ? 0 : 1)
  const reaches = (from: string, to: string): boolean => {
    const seen = new Set([from])
    const stack = [from]
    while (stack.length > 0) {
      const id = stack.pop()!
      if (id === to) return true
      for (const next of forward.get(id)!) {
        if (seen.has(next)) continue
        seen.add(next)
        stack.push(next)
      }
    }
    return false
  }
  // Edges that run forward in the order of `nodes` (YAML order: an operator node's first
  // operator feeding its second) are kept first; the ones against it are the back edges.
  sideways.sort((a, b) => againstOrder(a) - againstOrder(b) || a - b)
  for (const i of sideways) {
    const e = edges[i]!
    if (reaches(e.to, e.from)) back[i] = true
    else forward.get(e.from)!.push(e.to)
  }

  // A topological order of the forward edges, nearest and earliest first.
  const waiting = new Map<string, number>(nodes.map((n) => [n, 0]))
  for (const list of forward.values()) for (const to of list) waiting.set(to, waiting.get(to)! + 1)
  const ready = nodes.filter((n) => waiting.get(n) === 0)
  const order: string[] = []
  const before = (a: string, b: string): number => depth.get(a)! - depth.get(b)! || index.get(a)! - index.get(b)!
  while (ready.length > 0) {
    ready.sort(before)
    const id = ready.shift()!
    order.push(id)
    for (const to of forward.get(id)!) {
      const left = waiting.get(to)! - 1
      waiting.set(to, left)
      if (left === 0) ready.push(to)
    }
  }
  return { back, order }
}
