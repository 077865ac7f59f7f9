/** `dora-ts check dataflow.yml`: validate a dataflow without running it. */
import type { CommandModule } from 'yargs'
import { loadDataflow } from '../../src/spec/load.js'
import { createPrinter } from './output.js'

interface CheckArgs {
  dataflow: string
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check <dataflow>',
  describe: 'Validate a dataflow YAML without running it',
  builder: (yargs) =>
    yargs
      .positional('dataflow', { type: 'string', demandOption: true, describe: 'Path of the dataflow YAML' })
      .example('$0 check dataflow.yml', 'Report every mistake in dataflow.yml with its line and column'),
  handler: async (args) => {
    const spec = await loadDataflow(args.dataflow)
    const operators = spec.nodes.reduce((n, node) => n + (node.kind === 'operators' ? node.operators.length : 0), 0)
    const custom = spec.nodes.filter((n) => n.kind === 'custom').length
    createPrinter().info(`${args.dataflow} is valid: ${spec.nodes.length} nodes (${custom} custom, ${operators} operators)`)
  },
}
