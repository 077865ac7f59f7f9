/**
 * A small layered (Sugiyama-style) layout for `dora-ts graph`, left to right:
 *
 * 1. cycles are allowed: a depth-first search marks back-edges, which are left out of the
 *    layering (the drawing routes them below everything);
 * 2. each node's layer is its longest path from a source;
 * 3. an edge spanning several layers gets a dummy point per layer it crosses, so it runs
 *    between the boxes instead of through them;
 * 4. the order within each layer comes from barycenter sweeps, keeping the order with the
 *    fewest crossings;
 * 5. vertical positions pull each node towards the ports it connects to (a few sweeps, each
 *    an isotonic regression that keeps the order and the gaps).
 *
 * Good enough to keep ~50 nodes readable, and deterministic: the same YAML draws the same way.
 */

export interface LayoutNode {
  id: string
  width: number
  height: number
}

export interface LayoutEdge {
  from: string
  to: string
  /** Where the edge leaves `from`, measured from its top (default: its middle). */
  fromY?: number | undefined
  /** Where the edge enters `to`, measured from its top (default: its middle). */
  toY?: number | undefined
  /** Room the edge's label needs left of `to` (the gap before `to`'s layer is at least this). */
  labelWidth?: number | undefined
}

export interface LayoutOptions {
  /** Smallest horizontal gap between layers. */
  minLayerGap?: number
  /** Vertical gap between boxes of a layer. */
  rowGap?: number
  /** Vertical room of an edge passing through a layer. */
  laneHeight?: number
}

export interface PlacedNode extends LayoutNode {
  x: number
  y: number
  layer: number
}

/** How one edge is drawn: forward with the horizontal runs through the layers it crosses, or back. */
export type EdgeRoute = { back: false; runs: { x1: number; x2: number; y: number }[] } | { back: true }

export interface Layout {
  nodes: Map<string, PlacedNode>
  /** One per input edge, in the same order. */
  routes: EdgeRoute[]
  width: number
  height: number
  /** Node ids per layer, in drawing order (dummies left out). */
  layers: string[][]
}

interface Item {
  id: string
  height: number
  dummy: boolean
}

interface Segment {
  /** Items in adjacent layers: `from` in layer L, `to` in layer L + 1. */
  from: string
  to: string
  fromY: number
  toY: number
}

const DEFAULTS: Required<LayoutOptions> = { minLayerGap: 60, rowGap: 28, laneHeight: 12 }
const ORDER_SWEEPS = 24
const POSITION_SWEEPS = 12

export function layoutGraph(nodes: readonly LayoutNode[], edges: readonly LayoutEdge[], options: LayoutOptions = {}): Layout {
  const opts = { ...DEFAULTS, ...options }
  const byId = new Map(nodes.map((n) => [n.id, n]))
  const valid = edges.map((e) => byId.has(e.from) && byId.has(e.to))

  // 1. Back-edges by depth-first search, sources first, in input order.
  const out = new Map<string, number[]>(nodes.map((n) => [n.id, []]))
  const indegree = new Map<string, number>(nodes.map((n) => [n.id, 0]))
  edges.forEach((e, i) => {
    if (!valid[i]) return
    out.get(e.from)!.push(i)
    if (e.from !== e.to) indegree.set(e.to, indegree.get(e.to)! + 1)
  })
  const back = new Set<number>()
  const state = new Map<string, 1 | 2>()
  const visit = (start: string): void => {
    // Iterative DFS: a long chain must not overflow the stack.
    const stack: [string, number][] = [[start, 0]]
    state.set(start, 1)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const list = out.get(top[0])!
      if (top[1] >= list.length) {
        state.set(top[0], 2)
        stack.pop()
        continue
      }
      const i = list[top[1]++]!
      const next = edges[i]!.to
      const seen = state.get(next)
      if (seen === 1) back.add(i)
      else if (seen === undefined) {
        state.set(next, 1)
        stack.push([next, 0])
      }
    }
  }
  for (const n of nodes) if (indegree.get(n.id) === 0 && !state.has(n.id)) visit(n.id)
  for (const n of nodes) if (!state.has(n.id)) visit(n.id)

  // 2. Longest path from the sources over the remaining (acyclic) edges.
  const layerOf = new Map<string, number>(nodes.map((n) => [n.id, 0]))
  const remaining = new Map<string, number>(nodes.map((n) => [n.id, 0]))
  edges.forEach((e, i) => {
    if (valid[i] && !back.has(i)) remaining.set(e.to, remaining.get(e.to)! + 1)
  })
  const queue = nodes.filter((n) => remaining.get(n.id) === 0).map((n) => n.id)
  for (let q = 0; q < queue.length; q++) {
    const id = queue[q]!
    for (const i of out.get(id)!) {
      if (back.has(i)) continue
      const to = edges[i]!.to
      layerOf.set(to, Math.max(layerOf.get(to)!, layerOf.get(id)! + 1))
      const left = remaining.get(to)! - 1
      remaining.set(to, left)
      if (left === 0) queue.push(to)
    }
  }
  const layerCount = nodes.length === 0 ? 0 : Math.max(...layerOf.values()) + 1

  // 3. Forward edges (by the final layers) and their dummies.
  const layers: Item[][] = Array.from({ length: layerCount }, () => [])
  for (const n of nodes) layers[layerOf.get(n.id)!]!.push({ id: n.id, height: n.height, dummy: false })
  const forward = edges.map((e, i) => valid[i] && layerOf.get(e.to)! > layerOf.get(e.from)!)
  const chains: (string[] | undefined)[] = edges.map((e, i) => {
    if (!forward[i]) return undefined
    const chain = [e.from]
    for (let l = layerOf.get(e.from)! + 1; l < layerOf.get(e.to)!; l++) {
      const id = `\u0000${i}:${l}`
      layers[l]!.push({ id, height: opts.laneHeight, dummy: true })
      chain.push(id)
    }
    chain.push(e.to)
    return chain
  })
  const items = new Map<string, Item>(layers.flat().map((item) => [item.id, item]))
  const heightOf = (id: string): number => items.get(id)!.height
  // Segments between adjacent layers, indexed by their upper layer.
  const segments: Segment[][] = Array.from({ length: Math.max(0, layerCount - 1) }, () => [])
  chains.forEach((chain, i) => {
    if (chain === undefined) return
    const e = edges[i]!
    for (let k = 0; k + 1 < chain.length; k++) {
      const from = chain[k]!
      const to = chain[k + 1]!
      const fromY = k === 0 ? (e.fromY ?? heightOf(from) / 2) : heightOf(from) / 2
      const toY = k + 2 === chain.length ? (e.toY ?? heightOf(to) / 2) : heightOf(to) / 2
      segments[layerOf.get(e.from)! + k]!.push({ from, to, fromY, toY })
    }
  })

  // 4. Order within layers: barycenter sweeps, keeping the best.
  const order = layers.map((layer) => layer.map((item) => item.id))
  const indexIn = (layer: string[]): Map<string, number> => new Map(layer.map((id, i) => [id, i]))
  const crossings = (o: string[][]): number => {
    let total = 0
    segments.forEach((list, l) => {
      const upper = indexIn(o[l]!)
      const lower = indexIn(o[l + 1]!)
      const pairs = list.map((s) => [upper.get(s.from)!, lower.get(s.to)!] as const)
      for (let a = 0; a < pairs.length; a++) {
        for (let b = a + 1; b < pairs.length; b++) {
          const [u1, v1] = pairs[a]!
          const [u2, v2] = pairs[b]!
          if ((u1 - u2) * (v1 - v2) < 0) total++
        }
      }
    })
    return total
  }
  let best = order.map((layer) => [...layer])
  let bestCrossings = crossings(best)
  for (let sweep = 0; sweep < ORDER_SWEEPS && bestCrossings > 0; sweep++) {
    const down = sweep % 2 === 0
    const range = down ? [...Array(layerCount).keys()].slice(1) : [...Array(layerCount).keys()].reverse().slice(1)
    for (const l of range) {
      const neighbour = indexIn(order[down ? l - 1 : l + 1]!)
      const list = down ? segments[l - 1]! : segments[l]!
      const sums = new Map<string, [number, number]>()
      for (const s of list) {
        const self = down ? s.to : s.from
        const other = neighbour.get(down ? s.from : s.to)!
        const acc = sums.get(self) ?? [0, 0]
        acc[0] += other
        acc[1]++
        sums.set(self, acc)
      }
      const current = order[l]!
      const keyed = current.map((id, i) => {
        const acc = sums.get(id)
        // Nodes without neighbours on that side keep their place.
        return { id, key: acc === undefined ? i : acc[0] / acc[1], i }
      })
      keyed.sort((a, b) => a.key - b.key || a.i - b.i)
      order[l] = keyed.map((k) => k.id)
    }
    const count = crossings(order)
    if (count < bestCrossings) {
      bestCrossings = count
      best = order.map((layer) => [...layer])
    }
  }

  // 5. Vertical positions.
  const top = new Map<string, number>()
  const gapBetween = (a: string, b: string): number =>
    items.get(a)!.dummy && items.get(b)!.dummy ? 4 : items.get(a)!.dummy || items.get(b)!.dummy ? opts.rowGap / 2 : opts.rowGap
  for (const layer of best) {
    let y = 0
    layer.forEach((id, i) => {
      if (i > 0) y += gapBetween(layer[i - 1]!, id)
      top.set(id, y)
      y += heightOf(id)
    })
  }
  const incoming = new Map<string, Segment[]>()
  const outgoing = new Map<string, Segment[]>()
  for (const s of segments.flat()) {
    incoming.set(s.to, [...(incoming.get(s.to) ?? []), s])
    outgoing.set(s.from, [...(outgoing.get(s.from) ?? []), s])
  }
  for (let sweep = 0; sweep < POSITION_SWEEPS; sweep++) {
    const down = sweep % 2 === 0
    const range = down ? [...Array(layerCount).keys()] : [...Array(layerCount).keys()].reverse()
    for (const l of range) {
      const layer = best[l]!
      const desired = layer.map((id) => {
        // On later sweeps, listen to both sides so the result settles between them.
        const list = sweep < 2 ? (down ? incoming.get(id) : outgoing.get(id)) : [...(incoming.get(id) ?? []), ...(outgoing.get(id) ?? [])]
        if (list === undefined || list.length === 0) return top.get(id)!
        let sum = 0
        for (const s of list) sum += s.to === id ? top.get(s.from)! + s.fromY - s.toY : top.get(s.to)! + s.toY - s.fromY
        return sum / list.length
      })
      const placed = placeInOrder(
        desired,
        layer.map((id) => heightOf(id)),
        layer.map((id, i) => (i === 0 ? 0 : gapBetween(layer[i - 1]!, id))),
      )
      layer.forEach((id, i) => top.set(id, placed[i]!))
    }
  }
  const minTop = Math.min(0, ...top.values())
  for (const [id, y] of top) top.set(id, y - minTop)

  // Horizontal positions: columns as wide as their widest node, gaps wide enough for labels.
  const columnWidth = best.map((layer) => Math.max(0, ...layer.filter((id) => !items.get(id)!.dummy).map((id) => byId.get(id)!.width)))
  const gap = best.map(() => opts.minLayerGap)
  edges.forEach((e, i) => {
    if (!forward[i] || e.labelWidth === undefined) return
    const l = layerOf.get(e.to)!
    gap[l] = Math.max(gap[l]!, e.labelWidth)
  })
  const columnX: number[] = []
  let x = 0
  best.forEach((_, l) => {
    if (l > 0) x += gap[l]!
    columnX.push(x)
    x += columnWidth[l]!
  })

  const placed = new Map<string, PlacedNode>()
  let height = 0
  for (const n of nodes) {
    const l = layerOf.get(n.id)!
    const y = top.get(n.id)!
    placed.set(n.id, { ...n, layer: l, x: columnX[l]! + (columnWidth[l]! - n.width) / 2, y })
    height = Math.max(height, y + n.height)
  }
  const routes: EdgeRoute[] = chains.map((chain) => {
    if (chain === undefined) return { back: true }
    const runs = chain.slice(1, -1).map((id) => {
      const l = Number(id.slice(id.indexOf(':') + 1))
      return { x1: columnX[l]!, x2: columnX[l]! + columnWidth[l]!, y: top.get(id)! + heightOf(id) / 2 }
    })
    return { back: false, runs }
  })
  return { nodes: placed, routes, width: x, height, layers: best.map((layer) => layer.filter((id) => !items.get(id)!.dummy)) }
}

/**
 * Tops as close as possible (least squares) to `desired`, keeping the order: each item at
 * least `gaps[i]` below the previous one's bottom. Pool-adjacent-violators on the tops shifted
 * by the room the items before them need.
 */
export function placeInOrder(desired: readonly number[], heights: readonly number[], gaps: readonly number[]): number[] {
  const offsets: number[] = []
  let offset = 0
  desired.forEach((_, i) => {
    if (i > 0) offset += heights[i - 1]! + gaps[i]!
    offsets.push(offset)
  })
  // Blocks of pooled values: [mean, count].
  const blocks: [number, number][] = []
  desired.forEach((d, i) => {
    blocks.push([d - offsets[i]!, 1])
    while (blocks.length > 1 && blocks[blocks.length - 2]![0] > blocks[blocks.length - 1]![0]) {
      const b = blocks.pop()!
      const a = blocks.pop()!
      blocks.push([(a[0] * a[1] + b[0] * b[1]) / (a[1] + b[1]), a[1] + b[1]])
    }
  })
  const result: number[] = []
  for (const [mean, count] of blocks) for (let k = 0; k < count; k++) result.push(mean + offsets[result.length]!)
  return result
}
