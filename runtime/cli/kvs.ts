/**
 * `dora-ts kvs get|put|ls|rm|watch|namespaces|drop-namespace`: the machine's shared key-value store from the shell, also
 * while dataflows run (the CLI opens the same LMDB environment as the nodes do). `--json`
 * prints machine-readable output for scripts; `watch --json` prints one JSON object per line.
 */
import { resolve } from 'node:path'
import { createInterface } from 'node:readline/promises'
import type { Argv, CommandModule } from 'yargs'
import { defaultKvsDir, ENV_KVS_DIR, formatHolder, KvsStore, type KvsChange, type KvsNamespace } from '../../src/store/kvs/store.js'
import { createPrinter } from './output.js'
import { byteSizeOption, CliUsageError, valueOrFileBytes } from './options.js'
import { describeValue, oneLine, utf8Text } from './value-text.js'
import { didYouMean } from '../../src/spec/did-you-mean.js'

/** Environment variable with the default `--namespace` of the kvs commands. */
export const ENV_KVS_NAMESPACE = 'DORA_TS_KVS_NAMESPACE'

interface KvsArgs {
  namespace?: string | undefined
  'kvs-dir'?: string | undefined
  'kvs-map-size'?: string | undefined
  json: boolean
}

interface KeyArgs extends KvsArgs {
  key: string
}

interface PutArgs extends KeyArgs {
  value?: string | undefined
  file?: string | undefined
}

interface PrefixArgs extends KvsArgs {
  prefix: string
}

interface WatchArgs extends PrefixArgs {
  count?: number | undefined
}

/** Characters of a value `kvs ls` and `kvs watch` show before cutting it short. */
export const PREVIEW_CHARS = 80

/**
 * A value as the text output shows it on one line, cut to {@link PREVIEW_CHARS}: a listing is
 * for finding keys, and a store of megabyte values printed in full floods the terminal (`kvs
 * get KEY` or `--json` give the whole value).
 */
export function preview(bytes: Uint8Array): string {
  const text = utf8Text(bytes)
  if (text === undefined) return `<${bytes.byteLength} bytes of binary>`
  const { shown, cut } = oneLine(text, PREVIEW_CHARS)
  return cut ? `${shown}... (${bytes.byteLength} bytes)` : shown
}

/**
 * Open the KVS and the namespace the options name; `use` runs with them, the store is closed
 * after. A namespace comes into being on its first write, so a mistyped `-n robto` would read
 * nothing or silently start a second pool: reads of a namespace that does not exist are
 * refused with the existing ones, and a `put` that creates one says so on stderr.
 */
async function withNamespace<T>(
  args: KvsArgs,
  use: (ns: KvsNamespace, store: KvsStore) => T | Promise<T>,
  access: 'read' | 'write' | 'watch' = 'read',
): Promise<T> {
  const dir = args['kvs-dir'] === undefined ? defaultKvsDir() : resolve(args['kvs-dir'])
  const mapSizeBytes = args['kvs-map-size'] === undefined ? undefined : byteSizeOption('--kvs-map-size', args['kvs-map-size'])
  const store = KvsStore.open({ dir, verify: true, ...(mapSizeBytes === undefined ? {} : { mapSizeBytes }) })
  try {
    const name = args.namespace ?? process.env[ENV_KVS_NAMESPACE]
    if (name === undefined || name === '') {
      const existing = store.namespaces()
      throw new CliUsageError(`name the KVS namespace with --namespace (or ${ENV_KVS_NAMESPACE})`, {
        hint:
          existing.length === 0
            ? `the KVS in ${dir} has no namespaces yet; a dataflow's nodes use its name (or its kvs_namespace)`
            : `namespaces in ${dir}: ${existing.join(', ')} (a dataflow's nodes use its name, or its kvs_namespace)`,
      })
    }
    const ns = store.namespace(name)
    const existing = store.namespaces()
    if (!existing.includes(name)) {
      const known = existing.length === 0 ? `the KVS in ${dir} has no namespaces yet` : `namespaces in ${dir}: ${existing.join(', ')}`
      if (access === 'read') {
        throw new CliUsageError(`KVS namespace ${JSON.stringify(name)} does not exist${didYouMean(name, existing)}`, {
          hint: `${known}; a namespace is created by its first write (dora-ts kvs namespaces lists them)`,
        })
      }
      if (access === 'watch') createPrinter().info(`KVS namespace ${JSON.stringify(name)} does not exist yet${didYouMean(name, existing)}; ${known}`)
      else if (existing.length > 0) createPrinter().info(`creating KVS namespace ${JSON.stringify(name)}${didYouMean(name, existing)}; ${known}`)
    }
    return await use(ns, store)
  } finally {
    store.close()
  }
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`)
}

interface GetArgs extends KeyArgs {
  raw: boolean
}

const getCommand: CommandModule<KvsArgs, GetArgs> = {
  command: 'get <key>',
  describe: 'Print the value of a key (its raw bytes; with --json, an object)',
  builder: (yargs) =>
    yargs
      .positional('key', { type: 'string', demandOption: true, describe: 'The key' })
      .option('raw', { type: 'boolean', default: false, describe: 'Print the stored bytes exactly, without the newline that ends a text value' })
      .example('$0 kvs get settings/max-speed -n robot', 'Print the value')
      .example('$0 kvs get count -n robot --json', '{"namespace":"robot","key":"count","found":true,"bytes":2,"text":"42","json":42,"base64":"NDI="}'),
  handler: (args) =>
    withNamespace(args, (ns) => {
      const value = ns.read(args.key)
      if (args.json) {
        printJson({ namespace: ns.name, key: args.key, found: value !== undefined, ...(value === undefined ? {} : describeValue(value)) })
      } else if (value !== undefined) {
        process.stdout.write(value)
        // A text value ends its line, as `echo` does, so the shell prompt does not follow it
        // on the same line; --raw prints the stored bytes exactly (binary values always are).
        const text = describeValue(value).text
        if (!args.raw && text !== undefined && !text.endsWith('\n')) process.stdout.write('\n')
      }
      if (value === undefined) {
        if (!args.json) createPrinter().error(`key ${JSON.stringify(args.key)} not found in KVS namespace ${JSON.stringify(ns.name)}`)
        process.exitCode = 1
      }
    }),
}

const putCommand: CommandModule<KvsArgs, PutArgs> = {
  command: 'put <key> [value]',
  describe: 'Set a key to a string, or to the bytes of a file (--file PATH; - or --file - for stdin)',
  builder: (yargs) =>
    yargs
      .positional('key', { type: 'string', demandOption: true, describe: 'The key' })
      .positional('value', { type: 'string', describe: 'The value, stored as UTF-8 text' })
      .option('file', { type: 'string', describe: 'Store the bytes of this file instead (- reads stdin)' })
      .example('$0 kvs put settings/max-speed 1.5 -n robot', 'Set a value')
      .example('$0 kvs put map.png --file map.png -n robot', 'Store a file')
      .example('echo 1.5 | $0 kvs put settings/max-speed - -n robot', 'Store what stdin gives'),
  handler: (args) => {
    const bytes = valueOrFileBytes(args.value, args.file, {
      message: 'kvs put takes a value or --file, exactly one of them',
      hint: 'e.g. dora-ts kvs put KEY VALUE, or dora-ts kvs put KEY --file PATH',
    })
    return withNamespace(
      args,
      (ns) => {
        ns.write(args.key, bytes)
        if (args.json) printJson({ namespace: ns.name, key: args.key, bytes: bytes.byteLength })
      },
      'write',
    )
  },
}

const lsCommand: CommandModule<KvsArgs, PrefixArgs> = {
  command: 'ls [prefix]',
  describe: `List the keys (starting with PREFIX) and the first ${PREVIEW_CHARS} characters of their values, in key order`,
  builder: (yargs) =>
    yargs
      .positional('prefix', { type: 'string', default: '', describe: 'Only keys that start with this' })
      .example('$0 kvs ls settings/ -n robot', 'key<TAB>value lines')
      .example('$0 kvs ls -n robot --json', 'A JSON array of {key, bytes, text, json, base64}'),
  handler: (args) =>
    withNamespace(args, (ns) => {
      const entries = ns.list(args.prefix)
      if (args.json) {
        printJson(entries.map(({ key, value }) => ({ key, ...describeValue(value) })))
        return
      }
      for (const { key, value } of entries) process.stdout.write(`${key}\t${preview(value)}\n`)
    }),
}

const rmCommand: CommandModule<KvsArgs, KeyArgs> = {
  command: 'rm <key>',
  describe: 'Delete a key (exit code 1 when it does not exist)',
  builder: (yargs) =>
    yargs.positional('key', { type: 'string', demandOption: true, describe: 'The key' }).example('$0 kvs rm settings/max-speed -n robot', 'Delete it'),
  handler: (args) =>
    withNamespace(args, (ns) => {
      const removed = ns.delete(args.key)
      if (args.json) printJson({ namespace: ns.name, key: args.key, removed })
      if (!removed) {
        if (!args.json) createPrinter().error(`key ${JSON.stringify(args.key)} not found in KVS namespace ${JSON.stringify(ns.name)}`)
        process.exitCode = 1
      }
    }),
}

const watchCommand: CommandModule<KvsArgs, WatchArgs> = {
  command: 'watch [prefix]',
  describe: 'Print every change to keys starting with PREFIX as it happens, until Ctrl-C',
  builder: (yargs) =>
    yargs
      .positional('prefix', { type: 'string', default: '', describe: 'Only keys that start with this' })
      .option('count', { type: 'number', describe: 'Exit after this many changes' })
      .example('$0 kvs watch settings/ -n robot', 'put/delete lines as changes happen')
      .example('$0 kvs watch -n robot --json', 'One JSON object per change and line'),
  handler: (args) =>
    withNamespace(
      args,
      async (ns) => {
        if (args.count !== undefined && !(Number.isInteger(args.count) && args.count > 0)) {
          throw new CliUsageError(`--count must be a positive integer, got ${args.count}`)
        }
        const controller = new AbortController()
        const watch = ns.watch(args.prefix, { signal: controller.signal })
        const stop = (): void => controller.abort()
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
        // The watch's timer is unref'd (a watch must not keep a node alive); this command exists to wait.
        const keepAlive = setInterval(() => {}, 1 << 30)
        const filter = args.prefix === '' ? '' : ` for keys starting with ${JSON.stringify(args.prefix)}`
        createPrinter().info(`watching KVS namespace ${JSON.stringify(ns.name)}${filter} (Ctrl-C to stop)`)
        let seen = 0
        try {
          for await (const change of watch) {
            printChange(change, args.json)
            if (args.count !== undefined && ++seen >= args.count) break
          }
        } finally {
          clearInterval(keepAlive)
          process.off('SIGINT', stop)
          process.off('SIGTERM', stop)
          watch.close()
        }
      },
      'watch',
    ),
}

function printChange(change: KvsChange, json: boolean): void {
  switch (change.type) {
    case 'put':
      if (json) printJson({ type: 'put', key: change.key, seq: change.seq, ...describeValue(change.value) })
      else process.stdout.write(`put\t${change.key}\t${preview(change.value)}\n`)
      return
    case 'delete':
      if (json) printJson({ type: 'delete', key: change.key, seq: change.seq })
      else process.stdout.write(`delete\t${change.key}\n`)
      return
    case 'lagged':
      if (json) printJson({ type: 'lagged', seq: change.seq })
      else createPrinter().error('fell behind: some changes were trimmed from the log before they were printed')
      return
    default:
      return
  }
}

const namespacesCommand: CommandModule<KvsArgs, KvsArgs> = {
  command: 'namespaces',
  aliases: ['ns'],
  describe: 'List the namespaces (pools) that exist, one a line',
  builder: (yargs) => yargs.example('$0 kvs namespaces', 'robot\nsettings'),
  handler: (args) => {
    const dir = args['kvs-dir'] === undefined ? defaultKvsDir() : resolve(args['kvs-dir'])
    const store = KvsStore.open({ dir })
    try {
      const names = store.namespaces()
      if (args.json) printJson(names)
      else for (const name of names) process.stdout.write(`${name}\n`)
    } finally {
      store.close()
    }
  },
}

interface DropArgs extends KvsArgs {
  name?: string | undefined
  yes: boolean
}

const dropNamespaceCommand: CommandModule<KvsArgs, DropArgs> = {
  command: 'drop-namespace [name]',
  describe: 'Delete a namespace and every key in it (asks first; --yes in scripts)',
  builder: (yargs) =>
    yargs
      .positional('name', { type: 'string', describe: 'The namespace to drop (or -n NAME)' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Do not ask for confirmation' })
      // Its help shows the argument; -n works too, as in every other kvs command.
      .hide('namespace')
      .example('$0 kvs drop-namespace robto --yes', 'Drop the namespace a typo created')
      .example('$0 kvs ls -n robto --json > robto.json', 'Keep a copy of its keys first'),
  handler: async (args) => {
    const printer = createPrinter()
    // The argument, or -n: either names it, not $DORA_TS_KVS_NAMESPACE (a drop must be asked for).
    if (args.name !== undefined && args.namespace !== undefined && args.namespace !== args.name) {
      throw new CliUsageError(`kvs drop-namespace got two namespaces: ${JSON.stringify(args.name)} and -n ${JSON.stringify(args.namespace)}`, {
        hint: `Name the one to drop: dora-ts kvs drop-namespace NAME`,
      })
    }
    const name = args.name ?? args.namespace
    if (name === undefined) {
      throw new CliUsageError('kvs drop-namespace needs the namespace to drop', {
        hint: 'Name it: dora-ts kvs drop-namespace NAME (dora-ts kvs namespaces lists them)',
      })
    }
    const dir = args['kvs-dir'] === undefined ? defaultKvsDir() : resolve(args['kvs-dir'])
    const store = KvsStore.open({ dir, verify: true })
    try {
      const unknown = (): CliUsageError => {
        const existing = store.namespaces()
        const known = existing.length === 0 ? `the KVS in ${dir} has no namespaces` : `namespaces in ${dir}: ${existing.join(', ')}`
        return new CliUsageError(`KVS namespace ${JSON.stringify(name)} does not exist${didYouMean(name, existing)}; nothing dropped`, {
          hint: `${known} (dora-ts kvs namespaces lists them; --kvs-dir picks another KVS)`,
        })
      }
      store.namespace(name) // checks the name
      if (!store.namespaces().includes(name)) throw unknown()
      if (!args.yes) {
        if (process.stdin.isTTY !== true) {
          throw new CliUsageError(`refusing to drop KVS namespace ${JSON.stringify(name)} without confirmation: not on a terminal, so dora-ts cannot ask`, {
            hint: `Pass --yes to drop it without asking (dora-ts kvs ls -n ${name} --json first keeps a copy of its keys).`,
          })
        }
        const keys = store.namespace(name).list().length
        const rl = createInterface({ input: process.stdin, output: process.stderr })
        const answer = await rl.question(`Drop KVS namespace ${JSON.stringify(name)} and its ${plural(keys, 'key')} in ${dir}? This cannot be undone. [y/N] `)
        rl.close()
        if (!/^y(es)?$/i.test(answer.trim())) {
          printer.info('nothing dropped')
          return
        }
      }
      const dropped = store.dropNamespace(name)
      if (dropped === undefined) throw unknown()
      // Delete the databases of this and earlier drops when nobody else has the KVS open; this
      // command is the only thread of its process that has it open, as freeing requires.
      const { freed, holders } = store.freeDroppedNamespaces()
      if (args.json) {
        printJson({ namespace: name, keys: dropped.keys, freed: freed.includes(name), holders: holders ?? null })
        return
      }
      printer.info(`dropped KVS namespace ${JSON.stringify(name)}: ${plural(dropped.keys, 'key')} deleted`)
      if (holders === undefined) {
        printer.info(
          `its LMDB databases are kept (so its slot toward the namespace limit is not freed yet): dora-ts cannot tell from /proc/locks whether other processes have the KVS open`,
        )
      } else if (holders.length > 0) {
        const list = holders.map(formatHolder).join('; ')
        printer.info(
          `${plural(holders.length, 'other process', 'other processes')} had the KVS open: ${list}. Those that use ${JSON.stringify(name)} read it empty from now on, and a write of theirs creates it again; its LMDB databases are deleted by a later drop-namespace, once no other process has the KVS open.`,
        )
      }
    } finally {
      store.close()
    }
  },
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

export const kvsCommand: CommandModule<object, KvsArgs> = {
  command: 'kvs <command>',
  describe: 'Read, write and watch the shared key-value store (also while dataflows run)',
  builder: (yargs: Argv) =>
    yargs
      .option('namespace', {
        alias: 'n',
        type: 'string',
        describe: `The namespace (pool): a dataflow's nodes use its name, or its kvs_namespace (default: $${ENV_KVS_NAMESPACE})`,
      })
      .option('kvs-dir', {
        type: 'string',
        describe: `The KVS directory (default: $${ENV_KVS_DIR}, else $XDG_STATE_HOME/dora-ts/kvs, else ~/.local/state/dora-ts/kvs)`,
      })
      .option('kvs-map-size', {
        type: 'string',
        describe: 'Size limit of the KVS for this command, e.g. 2GiB (default 1GiB): a put into a full KVS succeeds with a larger one',
      })
      .option('json', { type: 'boolean', default: false, describe: 'Machine-readable output' })
      .command(getCommand)
      .command(putCommand)
      .command(lsCommand)
      .command(rmCommand)
      .command(watchCommand)
      .command(namespacesCommand)
      .command(dropNamespaceCommand)
      .demandCommand(1, 'Name a kvs command: get, put, ls, rm, watch, namespaces or drop-namespace.') as unknown as Argv<KvsArgs>,
  handler: () => {},
}
