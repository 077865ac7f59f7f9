/**
 * A foreground run (`dora-ts run`, `npm start`, `record`, `replay`) answers `dora-ts topic` too,
 * as the supervisor daemon does for its runs: a newcomer's first dataflow runs in the
 * foreground, and `topic echo` from another terminal is the first thing they reach for (as
 * `ros2 topic echo` beside `ros2 run`).
 *
 * The run binds a control socket in its private run directory (`<runtime dir>/run-<pid>-<x>/`,
 * 0700, with its nodes' socket; removed on every way the run ends, a SIGKILL included, by its
 * nodes or its reaper) and writes beside it `foreground.json` (its name, id, pid and endpoint)
 * and `foreground.pid`. The CLI lists those whose process is alive ({@link foregroundRuns}). It answers
 * `topic`, `list` (and so `top`), `kill`, `restart NAME NODE` and `stop NAME NODE`, as the daemon
 * does for a run (unit-requests.ts): crash-restart testing with `dora-ts kill` works on `dora-ts
 * run`. Stopping it, or restarting it whole, stays with the terminal that runs it.
 *
 * @module
 */
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ControlServer } from '../control/server.js'
import { ControlClient, type RequestOptions } from '../control/client.js'
import { abortWhenGone } from '../daemon/client.js'
import { BadControlRequestError, DaemonNotRunningError, UnknownDataflowError } from '../daemon/errors.js'
import { checkDaemonRequest } from '../daemon/requests.js'
import { TOPIC_COMMANDS, TopicService } from '../daemon/topic-requests.js'
import { dataflowInfo, killUnit, restartUnit, stopUnit, withGroupUsage } from '../daemon/unit-requests.js'
import type { DataflowRun } from '../supervisor/dataflow-run.js'
import { runRoot } from '../../src/transport/run-dir.js'
import { livePidFileOwner, pidFileContent } from '../../src/transport/pid-file.js'

/** What a foreground run publishes about itself. */
export interface ForegroundRun {
  name: string
  id: string
  pid: number
  endpoint: string
}

/** What a foreground run writes in its run directory. */
const INFO_FILE = 'foreground.json'
const PID_FILE = 'foreground.pid'

/** How long a run that ended waits for its taps' last read (a topic command reads every 100 ms). */
const LAST_READ_MS = 1000

/** Serves the CLI for one foreground run; {@link close} it when the run ends. */
export class ForegroundControl {
  readonly #server: ControlServer
  readonly #files: string[]
  readonly #topics: TopicService

  private constructor(server: ControlServer, files: string[], topics: TopicService) {
    this.#server = server
    this.#files = files
    this.#topics = topics
  }

  /** Bind and publish; throws when the folder or socket cannot be made (the caller runs on without it). */
  static async start(run: DataflowRun, name: string, logDir: string): Promise<ForegroundControl> {
    const dir = run.runDirPath
    if (dir === undefined) throw new Error('the run has no run directory yet')
    // Shorter than the nodes.sock the run directory was made with room for.
    const socket = join(dir, 'ctl.sock')
    const check = (target: unknown): void => {
      if (target !== undefined && target !== name && !run.id.startsWith(String(target))) {
        throw new UnknownDataflowError(`this foreground run is "${name}", not "${String(target)}"`, { hint: `Name it as ${name}, or leave the name out.` })
      }
    }
    const topics = new TopicService((target) => {
      check(target)
      return { run, name }
    })
    const server = await ControlServer.bind({
      endpoints: [`ipc://${socket}`],
      dispatch: async (command, args) => {
        const checked = checkDaemonRequest(command, args)
        if ((TOPIC_COMMANDS as readonly string[]).includes(command)) return topics.handle(command as (typeof TOPIC_COMMANDS)[number], checked)
        check(checked['target'])
        switch (command) {
          case 'list':
            return withGroupUsage([{ ...dataflowInfo({ run, name, file: run.spec.file, logDir }), foreground: { pid: process.pid } }])
          case 'kill':
            return killUnit(run, name, String(checked['unit']), (checked['signal'] as NodeJS.Signals | undefined) ?? 'SIGKILL')
          case 'restart':
            if (checked['unit'] !== undefined) return restartUnit(run, name, String(checked['unit']))
            break
          case 'stop':
            if (checked['unit'] !== undefined) return stopUnit(run, name, String(checked['unit']), checked['graceMs'] as number | undefined)
        }
        throw new BadControlRequestError(
          `a foreground run (dora-ts run) does not answer "${command === 'restart' || command === 'stop' ? `${command} NAME` : command}" from another terminal`,
          {
            hint: 'Stop it with Ctrl-C (or SIGTERM) where it runs; to stop or restart a whole dataflow from anywhere, run it on the supervisor (dora-ts start --attach --auto-up).',
          },
        )
      },
    })
    const file = join(dir, INFO_FILE)
    // With the process's start time as a pid file has it: a pid another process got after this
    // one was killed (a reboot, a wrap-around) is not taken for this run.
    const pidFile = join(dir, PID_FILE)
    try {
      writeFileSync(pidFile, pidFileContent(), { mode: 0o600 })
      const info: ForegroundRun = { name, id: run.id, pid: process.pid, endpoint: `ipc://${socket}` }
      // Whole or not at all: a reader never sees half of it.
      writeFileSync(`${file}.tmp`, JSON.stringify(info), { mode: 0o600 })
      renameSync(`${file}.tmp`, file)
    } catch (err) {
      server.close()
      for (const path of [socket, pidFile]) rmSync(path, { force: true })
      throw err
    }
    return new ForegroundControl(server, [file, pidFile, socket], topics)
  }

  /**
   * Withdraw and stop answering, once the taps open at the run's end had their last read (at
   * most {@link LAST_READ_MS}: a `topic echo` gets what came before the end, and its end).
   */
  async close(): Promise<void> {
    for (const file of this.#files) rmSync(file, { force: true })
    const until = performance.now() + LAST_READ_MS
    while (this.#topics.open > 0 && performance.now() < until) await new Promise((resolve) => setTimeout(resolve, 20))
    this.#server.close()
  }
}

/** The foreground runs of this user that are alive (a dead one's run directory is swept by the next run). */
export function foregroundRuns(): ForegroundRun[] {
  const root = runRoot()
  let names: string[]
  try {
    names = readdirSync(root)
  } catch {
    return []
  }
  const runs: ForegroundRun[] = []
  for (const name of names.filter((n) => n.startsWith('run-'))) {
    let info: ForegroundRun
    try {
      info = JSON.parse(readFileSync(join(root, name, INFO_FILE), 'utf8')) as ForegroundRun
    } catch {
      // Not a foreground run (a daemon's run, a run still starting), or one that just ended.
      continue
    }
    if (typeof info.pid === 'number' && livePidFileOwner(join(root, name, PID_FILE)) === info.pid) runs.push(info)
  }
  return runs
}

/** A connection to a foreground run's control socket; a request ends with DaemonNotRunningError once its process is gone. */
export class ForegroundRunClient extends ControlClient {
  readonly #run: ForegroundRun

  constructor(run: ForegroundRun) {
    super(run.endpoint, `the foreground run "${run.name}" (pid ${run.pid})`, run.pid, 'It may be busy: the terminal that runs it shows why.')
    this.#run = run
  }

  override request<T>(command: string, body: object = {}, options: RequestOptions = {}): Promise<T> {
    const { name, pid } = this.#run
    const gone = abortWhenGone(pid, () => new DaemonNotRunningError(`the foreground run "${name}" (pid ${pid}) ended before it answered "${command}"`))
    const signal = options.signal === undefined ? gone.signal : AbortSignal.any([options.signal, gone.signal])
    return super.request<T>(command, body, { ...options, signal }).finally(gone.done)
  }
}
