/**
 * bench/RESULTS.md is rewritten by every full `npm run bench`: the new run's table replaces the
 * old one, and the sections of measurements and analysis below it (each a `## ` heading) stay.
 */
import t from 'tap'
import { resultsMarkdown, type Results } from '../../bench/report.js'

const results: Results = {
  machine: { cpu: 'Test CPU', cores: 2, memoryGiB: 4, os: 'linux test', arch: 'x64', loadAtStart: 0.5, nice: 0 },
  node: 'v20.0.0',
  date: '2026-12-03T00:00:00.000Z',
  commit: 'abc1234',
  quick: false,
  sections: ['node-node'],
  durationS: 12,
  figures: [
    {
      id: 'node-node.rtt.8B',
      section: 'node-node',
      label: 'round trip 8 B',
      value: 321,
      unit: 'µs',
      baseline: 123,
      baselineLabel: 'zeromq.js',
      ratio: 2.61,
      rounds: 5,
      samples: 1000,
    },
  ],
  errors: [],
}

t.test('a new run replaces the table and keeps the sections after it', async (t) => {
  const old = resultsMarkdown({ ...results, commit: 'old0000', figures: [{ ...results.figures[0]!, value: 999 }] })
  const previous = `${old}\n## Analysis of a run (issue 15)\n\nMeasured by hand: 42 us.\n\n## Another section\n\ntext\n`
  const md = resultsMarkdown(results, previous)
  t.match(md, /commit abc1234/, 'the new run is described')
  t.notMatch(md, /old0000/, 'the old run is gone')
  t.match(md, /\| 321 \|/, 'the new figure is in the table')
  t.notMatch(md, /\| 999 \|/, "the old run's figure is gone")
  t.ok(md.indexOf('## Analysis of a run') > md.indexOf('| 321 |'), 'the kept sections follow the table')
  t.match(md, /## Analysis of a run \(issue 15\)\n\nMeasured by hand: 42 us\.\n\n## Another section\n\ntext\n$/, 'both sections are kept whole')
  t.equal(resultsMarkdown(results, md), md, 'rewriting with the same run changes nothing')
})

t.test('without an earlier file, only the run', async (t) => {
  const md = resultsMarkdown(results)
  t.notMatch(md, /^## /m)
  t.match(md, /^# Benchmark results/)
})
