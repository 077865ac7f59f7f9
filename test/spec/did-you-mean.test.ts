import t from 'tap'
import { closest, didYouMean, editDistance } from '../../src/spec/did-you-mean.js'

t.test('editDistance counts inserts, deletes and substitutions', async (t) => {
  t.equal(editDistance('scan', 'scan'), 0)
  t.equal(editDistance('scann', 'scan'), 1)
  t.equal(editDistance('kitten', 'sitting'), 3)
  t.equal(editDistance('', 'abc'), 3)
  t.equal(editDistance('abc', ''), 3)
  t.equal(editDistance('robto', 'robot'), 1, 'a swap of two neighbours is one typo')
  t.equal(closest('lsit', ['list', 'logs']), 'list')
})

t.test('closest suggests a likely typo and nothing for unrelated words', async (t) => {
  t.equal(closest('scann', ['scan', 'image']), 'scan')
  t.equal(closest('ouputs', ['inputs', 'outputs']), 'outputs')
  t.equal(closest('restart-policy', ['restart_policy', 'max_restarts']), 'restart_policy')
  t.equal(closest('PATH', ['path', 'args']), 'path')
  t.equal(closest('camera', ['lidar', 'planner']), undefined)
  t.equal(closest('ab', ['xy']), undefined)
  t.equal(closest('scan', ['scan']), undefined, 'an exact match is not a suggestion')
  t.equal(closest('x', []), undefined)
})

t.test('didYouMean formats the suggestion or returns an empty string', async (t) => {
  t.equal(didYouMean('scann', ['scan']), ' (did you mean "scan"?)')
  t.equal(didYouMean('zzz', ['scan']), '')
})
