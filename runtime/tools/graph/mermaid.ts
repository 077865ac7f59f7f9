/**
 * `dora-ts graph --mermaid`: the dataflow as a Mermaid flowchart (as dora's `graph --mermaid`),
 * to paste into Markdown. Node ids are sanitized (Mermaid ids cannot hold `/` or be `end`);
 * every label is quoted. Edges that close a cycle (`breakCycles` in cycles.ts, the same ones the HTML
 * page dashes) are dotted links (`-.->`), listed in a comment, and coloured with `linkStyle`.
 */
import { basename } from 'node:path'
import type { DataflowGraph, GraphUnit } from './model.js'

const RESERVED = new Set(['end', 'graph', 'subgraph', 'flowchart', 'direction', 'style', 'class', 'classdef', 'click', 'linkstyle', 'default'])

export function renderGraphMermaid(graph: DataflowGraph): string {
  const ids = new Map<string, string>()
  const used = new Set<string>()
  // A single operator is named by its node, as users address it (`node/output`).
  const names = new Map<string, string>()
  for (const box of graph.boxes) if (box.kind === 'operator') names.set(box.units[0]!.key, box.key)
  const idOf = (key: string): string => {
    let id = ids.get(key)
    if (id !== undefined) return id
    const base = (names.get(key) ?? key).replace(/^timer:dora\/timer\//, 'timer_').replace(/[^A-Za-z0-9_]/g, '_')
    const safe = /^[A-Za-z]/.test(base) && !RESERVED.has(base.toLowerCase()) ? base : `n_${base}`
    id = safe
    for (let k = 2; used.has(id); k++) id = `${safe}_${k}`
    used.add(id)
    ids.set(key, id)
    return id
  }
  const lines = ['flowchart LR', `  %% dataflow "${graph.name}" (${basename(graph.file)}), drawn by dora-ts graph --mermaid`]
  const timers = graph.boxes.filter((b) => b.kind === 'timer')
  if (timers.length > 0) {
    lines.push('  subgraph dora_timers ["timers"]')
    for (const box of timers) lines.push(`    ${shape(idOf(box.key), box.units[0]!)}`)
    lines.push('  end')
  }
  for (const box of graph.boxes) {
    if (box.kind === 'timer') continue
    if (box.kind === 'operators') {
      lines.push(`  subgraph ${idOf(box.key)} [${quote(box.title)}]`)
      for (const unit of box.units) lines.push(`    ${shape(idOf(unit.key), unit)}`)
      lines.push('  end')
    } else {
      lines.push(`  ${shape(idOf(box.units[0]!.key), box.units[0]!)}`)
    }
  }
  const back: number[] = []
  graph.edges.forEach((edge, i) => {
    const text = edge.detail === '' ? edge.label : `${edge.label} (${edge.detail})`
    if (edge.back) back.push(i)
    lines.push(`  ${idOf(edge.from.unit)} ${edge.back ? '-.->' : '-->'}|${quote(text)}| ${idOf(edge.to.unit)}`)
  })
  if (back.length > 0) {
    // linkStyle counts links in the order they appear, which is the order of graph.edges.
    lines.push(
      `  %% dotted links close a cycle (feedback): ${back.map((i) => `${idOf(graph.edges[i]!.from.unit)} -> ${idOf(graph.edges[i]!.to.unit)}`).join(', ')}`,
    )
    lines.push(`  linkStyle ${back.join(',')} stroke:#cf222e,color:#cf222e`)
  }
  return `${lines.join('\n')}\n`
}

/** Timers as trapezoids, operators as subroutines, custom nodes as rectangles. */
function shape(id: string, unit: GraphUnit): string {
  const text = quote(unit.title)
  switch (unit.kind) {
    case 'timer':
      return `${id}[/${text}\\]`
    case 'operator':
      return `${id}[[${text}]]`
    default:
      return `${id}[${text}]`
  }
}

/** A Mermaid string: quoted, with `#` and `"` as Mermaid entity codes. */
function quote(text: string): string {
  return `"${text.replace(/#/g, '#35;').replace(/"/g, '#quot;')}"`
}
