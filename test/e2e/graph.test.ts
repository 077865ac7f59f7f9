/**
 * `dora-ts graph` through the real CLI: the HTML page is well-formed, self-contained, and names
 * every node, operator, timer and connection of the dataflow; `--mermaid` prints a flowchart;
 * `--open` uses the desktop opener when there is one and only says so when there is none.
 */
import t from 'tap'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadDataflow } from '../../src/spec/load.js'
import { ROOT, runCli, shortRuntimeDir } from './fixtures/cli.js'
import { waitFor } from '../fixtures/wait-for.js'

const FLOW = 'nodes:\n  - id: a\n    path: ./a.mjs\n'
const VOID = new Set(['meta', 'link', 'br', 'hr', 'img', 'input'])
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" }
const TEXT_ENTITY = /&(amp|lt|gt|quot|#39);/g

interface Parsed {
  /** Text nodes inside the <svg>, entities decoded. */
  svgText: string[]
  /** Every text node of the page, decoded. */
  text: string[]
  /** Tag names, in document order. */
  tags: string[]
  /** Attribute values, decoded. */
  attributes: string[]
}

/**
 * A small strict parser: every element closed in order (void ones may be self-closed), every
 * attribute quoted, no stray `<` and no `&` outside an entity. Throws on the first problem.
 */
function parseStrict(html: string): Parsed {
  const stack: string[] = []
  const parsed: Parsed = { svgText: [], text: [], tags: [], attributes: [] }
  let roots = 0
  let i = 0
  const fail = (why: string): never => {
    throw new Error(`not well-formed at offset ${i} (${JSON.stringify(html.slice(i, i + 60))}): ${why}`)
  }
  const decode = (raw: string): string => {
    const stray = raw.replace(TEXT_ENTITY, '')
    if (stray.includes('&')) fail('a "&" that starts no known entity')
    return raw.replace(TEXT_ENTITY, (_, name: string) => ENTITIES[name]!)
  }
  while (i < html.length) {
    const lt = html.indexOf('<', i)
    const text = html.slice(i, lt === -1 ? html.length : lt)
    if (text.trim() !== '') {
      if (stack.length === 0) fail('text outside the root element')
      if (stack.at(-1) !== 'style' && text.includes('>')) fail('a raw ">" in text')
      const decoded = stack.at(-1) === 'style' ? text : decode(text)
      parsed.text.push(decoded)
      if (stack.includes('svg')) parsed.svgText.push(decoded)
    }
    if (lt === -1) break
    i = lt
    if (stack.at(-1) === 'style' && !html.startsWith('</style>', i)) fail('"<" inside <style>')
    if (html.startsWith('<!--', i)) {
      const end = html.indexOf('-->', i)
      if (end === -1) fail('unterminated comment')
      i = end + 3
      continue
    }
    if (html.startsWith('<!DOCTYPE html>', i)) {
      if (i !== 0) fail('DOCTYPE not first')
      i += '<!DOCTYPE html>'.length
      continue
    }
    const end = /^<\/([a-zA-Z][\w:-]*)\s*>/.exec(html.slice(i))
    if (end !== null) {
      const name = end[1]!
      if (stack.at(-1) !== name) fail(`</${name}> closes <${stack.at(-1) ?? 'nothing'}>`)
      stack.pop()
      i += end[0].length
      continue
    }
    const start = /^<([a-zA-Z][\w:-]*)((?:\s+[a-zA-Z_:][\w:.-]*="[^"<]*")*)\s*(\/?)>/.exec(html.slice(i))
    if (start === null) fail('a "<" that starts no tag')
    const [whole, name, attrs, selfClosing] = start!
    const names = new Set<string>()
    for (const m of attrs!.matchAll(/([a-zA-Z_:][\w:.-]*)="([^"]*)"/g)) {
      if (names.has(m[1]!)) fail(`attribute ${m[1]} twice`)
      names.add(m[1]!)
      parsed.attributes.push(decode(m[2]!))
    }
    if (stack.length === 0) roots++
    parsed.tags.push(name!)
    if (selfClosing !== '/' && !VOID.has(name!)) stack.push(name!)
    i += whole.length
  }
  if (stack.length > 0) throw new Error(`not well-formed: <${stack.join('> <')}> never closed`)
  if (roots !== 1) throw new Error(`not well-formed: ${roots} root elements`)
  return parsed
}

/** What the page must name: every node, operator, timer and connection label of `file`. */
async function expectedNames(file: string): Promise<string[]> {
  const spec = await loadDataflow(file, { checkFiles: false })
  const names: string[] = []
  for (const node of spec.nodes) {
    names.push(node.id)
    const inputs = node.kind === 'custom' ? node.inputs : node.operators.flatMap((op) => op.inputs)
    if (node.kind === 'operators') names.push(...node.operators.map((op) => op.id))
    for (const input of inputs) {
      names.push(input.source.kind === 'timer' ? input.source.name : `${input.source.output} -> ${input.id}`)
      if (input.source.kind === 'timer') names.push(input.id)
      if (input.queueSize !== 10) names.push(`queue ${input.queueSize}`)
    }
  }
  return names
}

for (const file of ['dataflow.yml', 'examples/pipeline/dataflow.yml']) {
  t.test(`graph ${file} writes a well-formed, self-contained page naming everything in it`, async (t) => {
    const out = join(t.testdir(), 'graph.html')
    const result = await runCli(['graph', file, '--out', out], { cwd: ROOT })
    t.equal(result.code, 0, result.stderr)
    t.equal(result.stdout.trim(), out, 'prints the path of the page')
    t.match(result.stderr, /drew dataflow "\w+": \d+ nodes/)
    const html = readFileSync(out, 'utf8')
    const page = parseStrict(html)
    t.ok(page.tags.includes('svg'), 'draws an inline SVG')
    t.notMatch(
      html,
      /<script[^>]*\ssrc=|<link|<img|@import|url\((?!#)|https?:\/\/(?!www\.w3\.org\/2000\/svg)/,
      'loads nothing: no script file, stylesheet, image or remote URL',
    )
    const svgText = page.svgText.join('\n')
    for (const name of await expectedNames(join(ROOT, file))) {
      t.ok(
        page.svgText.some((text) => text === name || text.includes(name)),
        `the drawing names ${JSON.stringify(name)}`,
      )
    }
    if (file === 'dataflow.yml') {
      t.match(svgText, /scan -> scan/)
      t.match(svgText, /queue 4/, 'a non-default queue size is shown')
      t.match(svgText, /dora\/timer\/millis\/500/)
      t.match(svgText, /obstacle-filter/)
    } else {
      t.match(svgText, /count -> count/)
      t.match(svgText, /doubled -> doubled/)
      t.match(svgText, /operator node: 2 operators/)
    }
  })
}

t.test('graph writes <name>.html in the runtime directory by default (not into the repo), and needs no node files to exist', async (t) => {
  const dir = t.testdir({
    'flow.yaml': `nodes:
  - id: camera
    path: ./not-written-yet.py
    inputs:
      tick: dora/timer/hz/30
    outputs: [image]
  - id: detector
    operator:
      typescript: ./detector.ts
      inputs:
        image: { source: camera/image, queue_size: 1, queue_policy: backpressure, input_timeout: 2 }
      outputs: [boxes]
  - id: planner
    path: ./planner.ts
    inputs:
      boxes: detector/boxes
      feedback: planner/plan
      errors: detector/_errors
    outputs: [plan]
`,
  })
  const runtimeDir = shortRuntimeDir(t)
  const result = await runCli(['graph', join(dir, 'flow.yaml')], { env: { DORA_TS_RUNTIME_DIR: runtimeDir } })
  t.equal(result.code, 0, result.stderr)
  const file = join(runtimeDir, `dora-ts-${process.getuid!()}`, 'graphs', 'flow.html')
  t.equal(result.stdout.trim(), file)
  t.notOk(existsSync(join(dir, 'flow.html')), 'nothing is left next to the YAML')
  const page = parseStrict(readFileSync(file, 'utf8'))
  const text = page.svgText.join('\n')
  t.match(text, /image -> image/)
  t.match(text, /queue 1, backpressure, timeout 2 s/, 'every non-default queue setting is shown')
  t.match(text, /plan -> feedback/, 'a self-loop is drawn')
  t.match(text, /_errors -> errors/, 'the implicit _errors output is drawn when read')
  t.match(text, /dora\/timer\/hz\/30/)
})

t.test('graph copes with cycles and ~50 nodes, and escapes ids that HTML would choke on', async (t) => {
  const nodes: string[] = []
  for (let i = 0; i < 50; i++) {
    const inputs = [i === 0 ? '      tick: dora/timer/millis/100' : `      in${i}: n${i - 1}/out`]
    if (i >= 5) inputs.push(`      skip${i}: n${(i * 7) % (i - 1)}/out`)
    if (i % 10 === 9) inputs.push(`      back${i}: n${i + 1 < 50 ? i + 1 : 0}/out`)
    nodes.push(`  - id: n${i}\n    path: ./n.mjs\n    inputs:\n${inputs.join('\n')}\n    outputs: [out]`)
  }
  nodes.push(`  - id: weird\n    path: ./w.mjs\n    inputs:\n      'a<b&"c''d': n3/out\n    outputs: ['x>y']`)
  const dir = t.testdir({ 'big.yml': `nodes:\n${nodes.join('\n')}\n` })
  const result = await runCli(['graph', join(dir, 'big.yml'), '--out', join(dir, 'big.html')])
  t.equal(result.code, 0, result.stderr)
  const page = parseStrict(readFileSync(join(dir, 'big.html'), 'utf8'))
  for (let i = 0; i < 50; i++) t.ok(page.svgText.includes(`n${i}`), `names n${i}`)
  t.ok(page.svgText.includes(`out -> a<b&"c'd`), 'an input id with <, &, quotes survives escaping')
  t.ok(page.svgText.includes('x>y'))
})

t.test('graph --mermaid prints a flowchart naming every node, operator, timer and connection', async (t) => {
  for (const file of ['dataflow.yml', 'examples/pipeline/dataflow.yml']) {
    const result = await runCli(['graph', file, '--mermaid'], { cwd: ROOT })
    t.equal(result.code, 0, result.stderr)
    const text = result.stdout
    t.match(text, /^flowchart LR\n/)
    for (const name of await expectedNames(join(ROOT, file)))
      t.ok(text.includes(`"${name}`) || text.includes(`${name}"`) || text.includes(` (${name})`), `names ${JSON.stringify(name)}`)
    const opens = text.match(/^\s*subgraph /gm)?.length ?? 0
    const ends = text.match(/^\s*end$/gm)?.length ?? 0
    t.equal(opens, ends, 'every subgraph is closed')
    for (const line of text.split('\n').filter((l) => l.includes('-->')))
      t.match(line, /^\s+[A-Za-z]\w* -->\|"[^"]*"\| [A-Za-z]\w*$/, `edge line is valid: ${line}`)
  }
  const robot = await runCli(['graph', 'dataflow.yml', '--mermaid'], { cwd: ROOT })
  t.match(robot.stdout, /lidar -->\|"scan -> scan \(queue 4\)"\| obstacle_filter/)
  t.match(robot.stdout, /timer_millis_500\[\/"dora\/timer\/millis\/500"\\\]/)
  t.notOk(existsSync(join(ROOT, 'dataflow.html')), '--mermaid writes no page')

  const dir = t.testdir()
  const toFile = await runCli(['graph', join(ROOT, 'examples/pipeline/dataflow.yml'), '--mermaid', '--out', join(dir, 'flow.mmd')])
  t.equal(toFile.code, 0, toFile.stderr)
  t.match(readFileSync(join(dir, 'flow.mmd'), 'utf8'), /^flowchart LR\n[\s\S]*subgraph pipeline \["pipeline"\]/)
})

t.test('graph --open hands the page to xdg-open (or open), and only says so when there is none', async (t) => {
  const dir = t.testdir({ bin: {}, empty: {} })
  const log = join(dir, 'opened.txt')
  for (const name of ['xdg-open', 'open']) {
    writeFileSync(join(dir, 'bin', name), `#!/bin/sh\necho "$@" > '${log}'\n`)
    chmodSync(join(dir, 'bin', name), 0o755)
  }
  const out = join(dir, 'robot.html')
  const opened = await runCli(['graph', 'dataflow.yml', '--out', out, '--open'], { cwd: ROOT, env: { PATH: join(dir, 'bin') } })
  t.equal(opened.code, 0, opened.stderr)
  t.match(opened.stderr, /opening file:\/\/.*robot\.html with (xdg-open|open)/)
  // The opener runs detached from the CLI, so nothing to wait on but its file (complete once
  // it ends in the newline echo writes last).
  const written = await waitFor(() => (existsSync(log) && readFileSync(log, 'utf8').endsWith('\n') ? readFileSync(log, 'utf8') : undefined), {
    what: `the opener to write ${log}`,
  })
  t.equal(written.trim(), out, 'the opener got the page')

  const none = await runCli(['graph', 'dataflow.yml', '--out', out, '--open'], { cwd: ROOT, env: { PATH: join(dir, 'empty') } })
  t.equal(none.code, 0, 'no opener is not a failure')
  t.match(none.stderr, /--open: (xdg-open|open) is not available here; open file:\/\/.*robot\.html in a browser/)
})

t.test('graph errors are one paragraph with a non-zero exit code', async (t) => {
  const missing = await runCli(['graph', 'no-such-dataflow.yml'], { cwd: ROOT })
  t.equal(missing.code, 1)
  t.match(missing.stderr, /no-such-dataflow\.yml/)
  t.notMatch(missing.stderr, /\n\s+at \S+ \(/, 'no stack trace')

  const dir = t.testdir({ 'a-file': '', 'flow.yml': FLOW })
  const unwritable = await runCli(['graph', 'dataflow.yml', '--out', join(dir, 'a-file', 'graph.html')], { cwd: ROOT })
  t.equal(unwritable.code, 1)
  t.match(unwritable.stderr, /error: cannot write .*a-file\/graph\.html/)
  t.notMatch(unwritable.stderr, /\n\s+at \S+ \(/, 'no stack trace')

  const self = await runCli(['graph', join(dir, 'flow.yml'), '--out', join(dir, 'flow.yml')], { cwd: ROOT })
  t.equal(self.code, 1, 'the page never replaces the YAML')
  t.match(self.stderr, /is the dataflow YAML itself; dora-ts graph will not overwrite it/)
  t.equal(readFileSync(join(dir, 'flow.yml'), 'utf8'), FLOW)

  const help = await runCli(['graph', '--help'])
  t.equal(help.code, 0)
  t.match(help.stdout, /Examples:[\s\S]*dora-ts graph dataflow\.yml --open/)
})
