import t from 'tap'
import { join, resolve } from 'node:path'
import { stateDirOf, stateRootOf } from '../../../runtime/state/location.js'

t.test('the state root: --state-dir, else the YAML state_dir, else .dora-ts/state next to the YAML', async (t) => {
  const spec = { baseDir: '/flows/robot', stateDir: undefined, name: 'robot' }
  t.equal(stateRootOf(spec), join('/flows/robot', '.dora-ts', 'state'))
  t.equal(stateRootOf({ ...spec, stateDir: '/var/lib/dora' }), '/var/lib/dora')
  t.equal(stateRootOf({ ...spec, stateDir: '/var/lib/dora' }, 'rel/state'), resolve('rel/state'), '--state-dir wins, relative to the cwd')
  t.equal(stateDirOf(spec), join('/flows/robot', '.dora-ts', 'state', 'robot'))
  t.equal(stateDirOf(spec, '/s'), '/s/robot')
})
