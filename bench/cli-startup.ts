/**
 * CLI start-up: wall time of `dora-ts --version` and `dora-ts list` against a bare `node -e 0`
 * (the floor every command pays). `list` runs with an empty runtime directory, so it answers
 * "no supervisor is running" after loading everything it needs to ask one. The three commands
 * take turns, so a burst of load on the machine hits all of them alike. Target (issue 14):
 * within 2x of the bare node.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { freshDir, ROOT, type SectionContext } from './harness.js'
import { latencyFigure, type Figure } from './report.js'
import { distribution } from './stats.js'

const SECTION = 'cli'
const CLI = join(ROOT, 'dist', 'runtime', 'cli', 'main.js')

function wallMs(args: string[], env: NodeJS.ProcessEnv): number {
  const start = process.hrtime.bigint()
  spawnSync(process.execPath, args, { env, stdio: 'ignore' })
  return Number(process.hrtime.bigint() - start) / 1e6
}

export async function benchCliStartup(ctx: SectionContext): Promise<Figure[]> {
  const runs = ctx.quick ? 3 : 21
  const env = { ...process.env, DORA_TS_RUNTIME_DIR: freshDir(ctx.tmp, 'cli-runtime'), NO_COLOR: '1' }
  const commands = { bare: ['-e', '0'], version: [CLI, '--version'], list: [CLI, 'list'] }
  const samples: Record<keyof typeof commands, number[]> = { bare: [], version: [], list: [] }
  ctx.progress(`CLI start-up: ${runs} runs each of node -e 0, dora-ts --version, dora-ts list`)
  for (let i = 0; i < runs; i++) {
    for (const name of Object.keys(commands) as Array<keyof typeof commands>) samples[name].push(wallMs(commands[name], env))
  }
  const bare = distribution(samples.bare)
  const common = { section: SECTION, rounds: 1, unit: 'ms', baselineLabel: 'node -e 0' }
  return [
    latencyFigure({ ...common, id: 'cli.version', label: 'dora-ts --version' }, distribution(samples.version), bare),
    latencyFigure({ ...common, id: 'cli.list', label: 'dora-ts list (no supervisor)' }, distribution(samples.list), bare),
  ]
}
