import t from 'tap'
import { parseDataflow } from '../../../../src/spec/load.js'
import { buildGraph } from '../../../../runtime/tools/graph/model.js'
import { renderGraphMermaid } from '../../../../runtime/tools/graph/mermaid.js'

t.test('a flowchart with safe ids: timers in a subgraph, operator nodes as subgraphs', async (t) => {
  const yaml = `name: m
nodes:
  - id: end
    path: ./end.mjs
    inputs:
      tick: dora/timer/millis/100
    outputs: [out]
  - id: a-b
    path: ./x.mjs
    inputs:
      x: { source: end/out, queue_size: 3 }
    outputs: ['o#"k']
  - id: a_b
    operator:
      javascript: ./y.mjs
      inputs:
        'i"n': a-b/o#"k
  - id: 9lives
    operators:
      - id: one
        javascript: ./z.mjs
        inputs:
          x: a-b/o#"k
        outputs: [y]
`
  const text = renderGraphMermaid(buildGraph(parseDataflow(yaml, '/f/m.yml', { checkFiles: false })))
  t.equal(
    text,
    `flowchart LR
  %% dataflow "m" (m.yml), drawn by dora-ts graph --mermaid
  subgraph dora_timers ["timers"]
    timer_millis_100[/"dora/timer/millis/100"\\]
  end
  n_end["end"]
  a_b["a-b"]
  a_b_2[["a_b"]]
  subgraph n_9lives ["9lives"]
    n_9lives_one[["one"]]
  end
  timer_millis_100 -->|"tick"| n_end
  n_end -->|"out -> x (queue 3)"| a_b
  a_b -->|"o#35;#quot;k -> i#quot;n"| a_b_2
  a_b -->|"o#35;#quot;k -> x"| n_9lives_one
`,
  )
})

t.test('edges closing a cycle are dotted, listed in a comment and coloured', async (t) => {
  const yaml = `name: loop
nodes:
  - id: a
    path: ./a.mjs
    inputs:
      tick: dora/timer/millis/10
      back: b/out
    outputs: [out]
  - id: b
    path: ./b.mjs
    inputs:
      in: a/out
    outputs: [out]
`
  const text = renderGraphMermaid(buildGraph(parseDataflow(yaml, '/f/loop.yml', { checkFiles: false })))
  t.match(text, /\n {2}b -\.->\|"out -> back"\| a\n/)
  t.match(text, /\n {2}a -->\|"out -> in"\| b\n/)
  t.match(text, /\n {2}%% dotted links close a cycle \(feedback\): b -> a\n {2}linkStyle 1 stroke:#cf222e,color:#cf222e\n$/)
})
