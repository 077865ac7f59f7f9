/**
 * The short torture run `npm test` includes (the long one is `npm run torture`): a few of
 * every fault against the built CLI, checked by the independent verifier. Each section prints
 * its table; a failure names the seed, and TORTURE_SEED=<seed> replays it.
 */
import t from 'tap'
import { runTorture, SHORT } from './fixtures/main.js'
import { failures, summary } from './fixtures/report.js'
import { seedFromEnv } from './fixtures/rng.js'

// A fixed seed by default, so `npm test` is the same run every time (`npm run torture` draws a
// new one each run); TORTURE_SEED still picks another.
const seed = process.env['TORTURE_SEED'] === undefined || process.env['TORTURE_SEED'] === '' ? 784642846 : seedFromEnv()
// Without the daemon step (`up`/`start`/`dora-ts kill`/`stop`/`destroy`) until a known defect
// is fixed: `dora-ts destroy` once did not finish within 120 s after a daemon run with kills
// (seed 1328929022; issue 11 note). `npm run torture` keeps the step.
//
// Smaller than SHORT, to keep `npm test` under 10 minutes on 2 cores: every kind of fault
// still happens (SIGKILLs of the supervisor, one mid-flow; a SIGINT and a SIGTERM stop; the
// drain; SIGKILLed KVS writers beside an operator; each kind of store damage) and the
// verifier checks the result independently; the counts are `npm run torture`'s job.
const plan = {
  data: { ...SHORT.data, sigkills: 2, cleanStops: 2, daemonRuns: 0 },
  kvs: { ...SHORT.kvs, kills: 3, processes: 2 },
  damage: { ...SHORT.damage, pageTrials: 1 },
}

for (const section of ['data', 'kvs', 'damage'] as const) {
  t.test(`torture ${section}: nothing lost, doubled, seen uncommitted, wedged or crashed (seed ${seed})`, async (t) => {
    const result = await runTorture(plan, { seed, sections: [section], dir: t.testdir(), log: (line) => t.comment(line) })
    t.comment(summary(result))
    const failed = failures(result)
    t.same(failed, [], `every ${section} check holds (replay with TORTURE_SEED=${seed})`)
  })
}
