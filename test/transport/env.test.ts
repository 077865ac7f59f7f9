/**
 * The environment contract between the supervisor and a custom node. Nodes written in other
 * languages read these names, so they are a public interface: a rename must fail here.
 */
import t from 'tap'
import { ENV_DATAFLOW_ID, ENV_ENDPOINT, ENV_NODE_ID, ENV_SUPERVISOR_PID } from '../../src/transport/env.js'

t.test('the variables a custom node is started with keep their names', async (t) => {
  t.same(
    { ENV_ENDPOINT, ENV_NODE_ID, ENV_DATAFLOW_ID, ENV_SUPERVISOR_PID },
    {
      ENV_ENDPOINT: 'DORA_TS_ENDPOINT',
      ENV_NODE_ID: 'DORA_TS_NODE_ID',
      ENV_DATAFLOW_ID: 'DORA_TS_DATAFLOW_ID',
      ENV_SUPERVISOR_PID: 'DORA_TS_SUPERVISOR_PID',
    },
  )
})
