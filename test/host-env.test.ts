import t from 'tap'
import { withoutNodeOptions } from '../src/host-env.js'

t.test('withoutNodeOptions: the environment without NODE_OPTIONS, the original untouched', async (t) => {
  const env = { NODE_OPTIONS: '--import=tsx', PATH: '/bin', DORA_TS_X: '1' }
  t.same(withoutNodeOptions(env), { PATH: '/bin', DORA_TS_X: '1' })
  t.equal(env.NODE_OPTIONS, '--import=tsx', 'the given environment keeps it')
  t.same(withoutNodeOptions({ PATH: '/bin' }), { PATH: '/bin' }, 'none to remove')
  t.equal(withoutNodeOptions().PATH, process.env.PATH, "by default, this process's environment")
})
