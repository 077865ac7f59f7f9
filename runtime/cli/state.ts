/**
 * `dora-ts state ls|dump|clear|snapshot|snapshots|restore`: look at and manage a dataflow's
 * operator state outside of a run. A dataflow is named as `dora-ts run` names it (the YAML
 * `name:`, else the file's base name) or by the path of its YAML. Reading works while a run
 * owns the store; clear and restore are refused then (DORA_STATE_IN_USE).
 */
import { createInterface } from 'node:readline/promises'
import { existsSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { daemonPaths } from '../daemon/paths.js'
import { knownRuns } from '../daemon/run-logs.js'
import type { Argv, CommandModule } from 'yargs'
import { clearState, DEFAULT_STATE_ROOT, resolveOperator, resolveStateTarget } from '../state/admin.js'
import { listSnapshots, restoreSnapshot, snapshotsDirOf, takeSnapshot } from '../state/snapshots.js'
import {
  listStores,
  liveOwner,
  refuseWhileOwned,
  requireStore,
  sizeOf,
  StateNotFoundError,
  storeExists,
  type StateTarget,
  withStateReader,
} from '../state/store-access.js'
import { formatValue, printableText } from '../state/value-format.js'
import { CliUsageError } from './options.js'
import { createPrinter } from './output.js'

interface CommonArgs {
  'state-dir'?: string | undefined
  name?: string | undefined
}
interface LsArgs extends CommonArgs {
  dataflow?: string | undefined
  json: boolean
}
interface DumpArgs extends CommonArgs {
  dataflow: string
  operator?: string | undefined
  json: boolean
}
interface ClearArgs extends CommonArgs {
  dataflow: string
  operator?: string | undefined
  yes: boolean
}
interface SnapshotArgs extends CommonArgs {
  dataflow: string
}
interface SnapshotsArgs extends CommonArgs {
  dataflow: string
  json: boolean
}
interface RestoreArgs extends CommonArgs {
  dataflow: string
  snapshot: string
}

const DATAFLOW = { type: 'string', demandOption: true, describe: 'Dataflow name (as dora-ts run names it) or the path of its YAML' } as const

function withStateDir<T>(yargs: Argv<T>): Argv<T & CommonArgs> {
  return yargs
    .option('state-dir', {
      type: 'string',
      describe:
        'State root (default: for a YAML, its state_dir or .dora-ts/state next to it; for a name, ./.dora-ts/state, else where the latest run of that name kept it)',
    })
    .option('name', { type: 'string', describe: 'With a YAML: the name the run was given (dora-ts run --name)' })
}

/**
 * The store a command means. A YAML (or `--state-dir`) says where; a bare name is looked for in
 * ./.dora-ts/state, then where the runs of that name kept it: each run records its state
 * directory with its logs (daemon/run-logs.ts), since a run puts the store next to its YAML,
 * wherever the CLI was started from (issue 14: `state ls robot` found nothing after a run).
 */
async function findStateTarget(dataflow: string, stateDir: string | undefined, name: string | undefined): Promise<StateTarget> {
  const target = await resolveStateTarget(dataflow, stateDir, name)
  if (target.file !== undefined || stateDir !== undefined || storeExists(target)) return target
  const { logsRoot } = daemonPaths()
  const runs = knownRuns(logsRoot, dataflow)
  const found = runs.find((r) => existsSync(join(r.stateDir, 'data.mdb')))
  if (found !== undefined) return { name: basename(found.stateDir), root: dirname(found.stateDir), dir: found.stateDir, file: found.file }
  const looked = [target.dir, ...new Set(runs.map((r) => r.stateDir))]
  const stores = listStores(target.root)
  throw new StateNotFoundError(
    `no state store for dataflow "${dataflow}": looked in ${looked.join(', ')}${runs.length === 0 ? ` and found no run of that name in the logs (${logsRoot})` : ''}`,
    {
      hint: [
        'Pass the dataflow YAML instead (dora-ts state ls path/to/dataflow.yml): its store is next to it, or in its state_dir.',
        stores.length === 0 ? '' : `Stores in ${target.root}: ${stores.join(', ')}.`,
        runs.length > 0 ? 'Its runs had no operator state yet (a store is made by operators).' : '',
      ]
        .filter((s) => s !== '')
        .join(' '),
    },
  )
}

const out = (line = ''): void => {
  process.stdout.write(`${line}\n`)
}

const lsCommand: CommandModule<object, LsArgs> = {
  command: 'ls [dataflow]',
  describe: "List a dataflow's operators with their entries and bytes, and whether a run owns the store; without a dataflow, list the stores",
  builder: (yargs) =>
    withStateDir(yargs)
      .positional('dataflow', { type: 'string', describe: DATAFLOW.describe })
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
      .example('$0 state ls robot', 'Operators of dataflow "robot" in ./.dora-ts/state/robot')
      .example('$0 state ls dataflow.yml --json', 'The same for the dataflow of dataflow.yml, as JSON'),
  handler: async (args) => {
    if (args.dataflow === undefined) {
      if (args.name !== undefined)
        throw new CliUsageError('--name goes with a dataflow YAML', {
          hint: 'dora-ts state ls lists every store under the root; pass a YAML with --name to see one.',
        })
      const root = resolve(args['state-dir'] ?? DEFAULT_STATE_ROOT)
      const stores = listStores(root).map((name) => {
        const pid = liveOwner(resolve(root, name))
        return { name, dir: resolve(root, name), bytesOnDisk: sizeOf(resolve(root, name)), inUse: pid !== undefined, owner: pid ?? null }
      })
      if (args.json) return out(JSON.stringify({ root, stores }, null, 2))
      if (stores.length === 0) return out(`no state stores under ${root}`)
      out(`state stores under ${root}:`)
      out(
        table(
          ['dataflow', 'on disk', 'owner'],
          stores.map((s) => [s.name, formatBytes(s.bytesOnDisk), s.owner === null ? 'not in use' : `in use (pid ${s.owner})`]),
        ),
      )
      return
    }
    const target = await findStateTarget(args.dataflow, args['state-dir'], args.name)
    requireStore(target)
    const { pid, operators } = await withStateReader(target, async (reader) => ({ pid: reader.owner, operators: await reader.stats() }))
    const bytesOnDisk = sizeOf(target.dir)
    if (args.json) {
      return out(JSON.stringify({ dataflow: target.name, dir: target.dir, bytesOnDisk, inUse: pid !== undefined, owner: pid ?? null, operators }, null, 2))
    }
    out(
      `dataflow "${target.name}": ${target.dir} (${formatBytes(bytesOnDisk)} on disk), ${pid === undefined ? 'not in use' : `in use by a running dataflow (pid ${pid})`}`,
    )
    if (operators.length === 0) return out('no operator state')
    out(
      table(
        ['operator', 'entries', 'bytes'],
        operators.map((o) => [o.operator, String(o.entries), String(o.bytes)]),
        [false, true, true],
      ),
    )
  },
}

const dumpCommand: CommandModule<object, DumpArgs> = {
  command: 'dump <dataflow> [operator]',
  describe: 'Print the keys and values of every operator (or one)',
  builder: (yargs) =>
    withStateDir(yargs)
      .positional('dataflow', DATAFLOW)
      .positional('operator', { type: 'string', describe: 'Only this operator: node/operator, or the node of a single operator' })
      .option('json', { type: 'boolean', default: false, describe: 'Print {operator: {key: base64 value}}' })
      .example('$0 state dump robot obstacle-filter', 'Keys and values of one operator: text as text, other bytes as hex or base64 (decoded when MessagePack)')
      .example('$0 state dump robot --json', 'Every value, base64-encoded, as JSON'),
  handler: async (args) => {
    const target = await findStateTarget(args.dataflow, args['state-dir'], args.name)
    requireStore(target)
    const dump = await withStateReader(target, async (reader) => {
      if (args.operator === undefined) return reader.dump()
      return reader.dump([resolveOperator(target, await reader.stats(), args.operator)])
    })
    if (args.json) return out(JSON.stringify(Object.fromEntries(dump.map(({ operator, state }) => [operator, Object.fromEntries(state)])), null, 2))
    if (dump.length === 0) return out(`dataflow "${target.name}" has no operator state`)
    for (const { operator, state } of dump) {
      out(`${operator} (${state.length} ${state.length === 1 ? 'entry' : 'entries'})`)
      for (const [key, value] of state) out(`  ${showKey(key)} = ${formatValue(Buffer.from(value, 'base64'))}`)
    }
  },
}

const clearCommand: CommandModule<object, ClearArgs> = {
  command: 'clear <dataflow> [operator]',
  describe: 'Delete the saved state of every operator (or one); refused while a run owns the store',
  builder: (yargs) =>
    withStateDir(yargs)
      .positional('dataflow', DATAFLOW)
      .positional('operator', { type: 'string', describe: 'Only this operator: node/operator, or the node of a single operator' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
      .example('$0 state clear robot --yes', 'Forget the state of every operator of dataflow "robot"')
      .example('$0 state clear robot obstacle-filter', "Forget one operator's state (asks first on a terminal)"),
  handler: async (args) => {
    const printer = createPrinter()
    const target = await findStateTarget(args.dataflow, args['state-dir'], args.name)
    requireStore(target)
    const what = args.operator === undefined ? 'the state of every operator' : `the state of operator "${args.operator}"`
    refuseWhileOwned(target, `clear ${what}`)
    if (!args.yes) {
      if (process.stdin.isTTY !== true) {
        throw new CliUsageError(`refusing to clear ${what} of dataflow "${target.name}" without confirmation: not on a terminal, so dora-ts cannot ask`, {
          hint: `Pass --yes to clear without asking (dora-ts state snapshot ${target.name} first keeps a copy you can restore).`,
        })
      }
      const rl = createInterface({ input: process.stdin, output: process.stderr })
      const answer = await rl.question(`Clear ${what} of dataflow "${target.name}" in ${target.dir}? This cannot be undone. [y/N] `)
      rl.close()
      if (!/^y(es)?$/i.test(answer.trim())) {
        printer.info('nothing cleared')
        return
      }
    }
    const cleared = await clearState(target, args.operator)
    if (cleared.length === 0) printer.info(`dataflow "${target.name}" had no operator state; nothing to clear`)
    else printer.info(`cleared the state of ${cleared.length} operator${cleared.length === 1 ? '' : 's'} of dataflow "${target.name}": ${cleared.join(', ')}`)
  },
}

const snapshotCommand: CommandModule<object, SnapshotArgs> = {
  command: 'snapshot <dataflow>',
  describe: 'Take a consistent copy of the store (also while it runs) and print its id',
  builder: (yargs) =>
    withStateDir(yargs)
      .positional('dataflow', DATAFLOW)
      .example('$0 state snapshot robot', 'Copy the state of dataflow "robot" to .dora-ts/state/.snapshots/robot/<UTC time>/'),
  handler: async (args) => {
    const target = await findStateTarget(args.dataflow, args['state-dir'], args.name)
    const snapshot = await takeSnapshot(target)
    const ops = snapshot.operators?.length ?? 0
    createPrinter().info(`snapshot of dataflow "${target.name}": ${ops} operator${ops === 1 ? '' : 's'}, ${formatBytes(snapshot.bytes)}, in ${snapshot.dir}`)
    out(snapshot.id)
  },
}

const snapshotsCommand: CommandModule<object, SnapshotsArgs> = {
  command: 'snapshots <dataflow>',
  describe: "List a dataflow's snapshots: id, date, size",
  builder: (yargs) =>
    withStateDir(yargs)
      .positional('dataflow', DATAFLOW)
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
      .example('$0 state snapshots robot', 'Snapshots of dataflow "robot", oldest first'),
  handler: async (args) => {
    const target = await findStateTarget(args.dataflow, args['state-dir'], args.name)
    const snapshots = listSnapshots(target)
    if (snapshots.length === 0 && !storeExists(target)) requireStore(target)
    if (args.json) {
      const json = snapshots.map((s) => ({
        id: s.id,
        createdAt: s.createdAt.toISOString(),
        bytes: s.bytes,
        dir: s.dir,
        reason: s.reason ?? null,
        operators: s.operators ?? null,
      }))
      return out(JSON.stringify({ dataflow: target.name, dir: snapshotsDirOf(target), snapshots: json }, null, 2))
    }
    if (snapshots.length === 0) return out(`no snapshots of dataflow "${target.name}" yet (take one with dora-ts state snapshot ${target.name})`)
    out(
      table(
        ['id', 'date (UTC)', 'size', 'operators'],
        snapshots.map((s) => [
          s.id,
          s.createdAt
            .toISOString()
            .replace('T', ' ')
            .replace(/\.\d+Z$/, ''),
          formatBytes(s.bytes),
          s.operators === undefined ? '?' : String(s.operators.length),
        ]),
        [false, false, true, true],
      ),
    )
  },
}

const restoreCommand: CommandModule<object, RestoreArgs> = {
  command: 'restore <dataflow> <snapshot>',
  describe: 'Replace the store with a snapshot (the current state is kept as a before-restore snapshot); refused while a run owns the store',
  builder: (yargs) =>
    withStateDir(yargs)
      .positional('dataflow', DATAFLOW)
      .positional('snapshot', { type: 'string', demandOption: true, describe: 'Snapshot id, as dora-ts state snapshots lists them' })
      .example('$0 state restore robot 2025-01-31T12-00-00.000Z', 'Put the state of dataflow "robot" back as it was then'),
  handler: async (args) => {
    const target = await findStateTarget(args.dataflow, args['state-dir'], args.name)
    if (!storeExists(target) && listSnapshots(target).length === 0) requireStore(target)
    const { restored, saved, operators } = await restoreSnapshot(target, args.snapshot)
    const printer = createPrinter()
    printer.info(`restored dataflow "${target.name}" from snapshot ${restored.id}: ${operators.length} operator${operators.length === 1 ? '' : 's'}`)
    if (saved !== undefined)
      printer.info(`the state it replaced is kept as snapshot ${saved.id} (dora-ts state restore ${target.name} ${saved.id} undoes this)`)
  },
}

export const stateCommand: CommandModule<object, object> = {
  command: 'state',
  describe: 'Inspect and manage operator state: ls, dump, clear, snapshot, snapshots, restore',
  builder: (yargs) =>
    yargs
      .command(lsCommand)
      .command(dumpCommand)
      .command(clearCommand)
      .command(snapshotCommand)
      .command(snapshotsCommand)
      .command(restoreCommand)
      .demandCommand(1, 'Name a state command: ls, dump, clear, snapshot, snapshots or restore.')
      .example('$0 state ls robot', 'Operators, entries and bytes of dataflow "robot"')
      .example('$0 state snapshot robot && $0 state snapshots robot', 'Take a snapshot, then list them'),
  handler: () => {},
}

/** A key as it is when it is plain, else JSON-quoted. */
function showKey(key: string): string {
  return /^[^\s="]+$/.test(key) && printableText(Buffer.from(key)) !== undefined ? key : JSON.stringify(key)
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`
}

/** Columns padded to their widest cell; `right` aligns numbers. */
function table(header: string[], rows: string[][], right: boolean[] = []): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right[i] === true ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}
