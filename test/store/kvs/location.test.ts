/** Where the machine's KVS lives, as the supervisor and the CLI both resolve it. */
import t from 'tap'
import { defaultKvsDir, ENV_KVS_DIR } from '../../../src/store/kvs/location.js'

t.test('the KVS directory: DORA_TS_KVS_DIR, else $XDG_STATE_HOME/dora-ts/kvs, else ~/.local/state/dora-ts/kvs', async (t) => {
  t.equal(ENV_KVS_DIR, 'DORA_TS_KVS_DIR')
  t.equal(defaultKvsDir({ DORA_TS_KVS_DIR: '/srv/kvs', XDG_STATE_HOME: '/x' }), '/srv/kvs')
  t.equal(defaultKvsDir({ XDG_STATE_HOME: '/home/me/.state' }), '/home/me/.state/dora-ts/kvs')
  t.match(defaultKvsDir({ XDG_STATE_HOME: 'relative' }), /\.local\/state\/dora-ts\/kvs$/, 'a relative XDG_STATE_HOME is ignored')
  t.match(defaultKvsDir({ DORA_TS_KVS_DIR: '' }), /\.local\/state\/dora-ts\/kvs$/, 'an empty DORA_TS_KVS_DIR is ignored')
  t.match(defaultKvsDir({}), /\.local\/state\/dora-ts\/kvs$/)
  t.equal(defaultKvsDir({ DORA_TS_KVS_DIR: 'rel/kvs' }), `${process.cwd()}/rel/kvs`, 'a relative DORA_TS_KVS_DIR is taken from the working directory')
})
