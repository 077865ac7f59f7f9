/**
 * The short torture run `npm test` includes (the long one is `npm run torture`): a few of
 * every fault against the built CLI, checked by the independent verifier. Each section prints
 * its table; a failure names the seed, and TORTURE_SEED=<seed> replays it.
 */
import t from 'tap'
import { runTorture, SHORT } from './fixtures/main.js'
import { failures, summary } from './fixtures/report.js'
import { seedFromEnv } from './fixtures/rng.js'

const seed = seedFromEnv()

for (const section of ['data', 'kvs', 'damage'] as const) {
  t.test(`torture ${section}: nothing lost, doubled, seen uncommitted, wedged or crashed (seed ${seed})`, async (t) => {
    const result = await runTorture(SHORT, { seed, sections: [section], dir: t.testdir(), log: (line) => t.comment(line) })
    t.comment(summary(result))
    const failed = failures(result)
    t.same(failed, [], `every ${section} check holds (replay with TORTURE_SEED=${seed})`)
  })
}
