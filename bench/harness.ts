/**
 * What the sections share: running a dataflow in this process with the real supervisor
 * (DataflowRun), running bare baseline processes and worker threads, plans and results on disk.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { stringify } from 'yaml'
import { DataflowRun, type RunResult } from '../runtime/supervisor/dataflow-run.js'
import type { LogEntry } from '../runtime/supervisor/unit.js'
import { parseDataflow } from '../src/spec/load.js'
import type { Figure } from './report.js'

/** The fixtures are plain .mjs files, run from the sources (they import 'dora-ts', i.e. dist/). */
export const FIXTURES = fileURLToPath(new URL('../../bench/fixtures/', import.meta.url))
export const fixture = (name: string): string => join(FIXTURES, name)
export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface SectionContext {
  quick: boolean
  /** A scratch directory for this section (removed by main). */
  tmp: string
  /** Progress lines (stderr). */
  progress(text: string): void
}

export type Section = (ctx: SectionContext) => Promise<Figure[]>

/** Payload sizes, labelled as in the issue (KB and MB are binary: 1 KB = 1024 B). */
export const SIZES = { '8B': 8, '1KB': 1024, '64KB': 64 * 1024, '1MB': 1024 * 1024, '4MB': 4 * 1024 * 1024, '16MB': 16 * 1024 * 1024 } as const
export type SizeLabel = keyof typeof SIZES
export const sizeText = (label: string): string => label.replace(/(\d)([KM]?B)$/, '$1 $2')

/** A latency phase: `warmup` unrecorded round trips, then `rounds` rounds of `count`. */
export interface LatencyPhase {
  label: string
  size: number
  warmup: number
  rounds: number
  count: number
  /** Pace the sends this far apart (ms) instead of back to back. */
  intervalMs?: number
}

export interface StreamPhase {
  label: string
  size: number
  /** Messages sent before the timed rounds. */
  warmup: number
  rounds: number
  count: number
  /** The sender waits for an ack after every `window` messages. */
  window: number
}

/**
 * A stream plan's `inflight` (custom-node senders only): sends up to that many without awaiting
 * each (see Node.send); 1 or absent awaits every send.
 */
export type Plan = { mode: 'latency'; phases: LatencyPhase[] } | { mode: 'stream'; phases: StreamPhase[]; inflight?: number }

/** Per phase label: rounds of round trips and of each one-way leg, in µs. */
export type LatencyResult = Record<string, { rtt: number[][]; leg1: number[][]; leg2: number[][] }>
/** Per phase label: elapsed ms of each round of `count` messages of `size` bytes. */
export type StreamResult = Record<string, { count: number; size: number; elapsedMs: number[] }>

let counter = 0
/** A fresh directory under `parent`. */
export function freshDir(parent: string, name: string): string {
  return mkdtempSync(join(parent, `${name}-${++counter}-`))
}

/**
 * A short directory for Unix sockets (paths are limited to ~100 bytes), removed by `release`.
 */
export function socketDir(): { path: string; release(): void } {
  const path = mkdtempSync(join(tmpdir(), 'dbr-'))
  return { path, release: () => rmSync(path, { recursive: true, force: true }) }
}

export function writeJson(file: string, value: unknown): string {
  writeFileSync(file, JSON.stringify(value))
  return file
}

export function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T
}

export interface DataflowOutcome {
  logs: LogEntry[]
  result: RunResult
}

export interface RunDataflowOptions {
  /** Stop the dataflow once this holds for the log lines so far (default: wait for it to end). */
  until?: (logs: readonly LogEntry[]) => boolean
  timeoutMs: number
}

/**
 * Run `dataflow` (a YAML object; fixture paths absolute) in this process with the real
 * supervisor, until it ends or `until` holds, then stop it. Fails with the log when a unit
 * failed or it timed out.
 */
export async function runDataflow(dir: string, dataflow: object, options: RunDataflowOptions): Promise<DataflowOutcome> {
  const file = join(dir, 'dataflow.yml')
  const text = stringify(dataflow)
  writeFileSync(file, text)
  const spec = parseDataflow(text, file)
  const logs: LogEntry[] = []
  let check: (() => void) | undefined
  const sockets = socketDir()
  let timedOut = false
  let result: RunResult
  try {
    // Closed on every path out of this block, a start() that failed included.
    await using run = new DataflowRun(spec, {
      graceMs: 3000,
      runtimeDir: sockets.path,
      stateDir: join(dir, 'state'),
      log: (entry) => {
        logs.push(entry)
        check?.()
      },
    })
    await run.start()
    let timer: NodeJS.Timeout | undefined
    try {
      const until = options.until
      const reached =
        until === undefined
          ? new Promise<void>(() => {})
          : new Promise<void>((resolve) => {
              check = () => {
                if (until(logs)) resolve()
              }
              check()
            })
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          timedOut = true
          resolve()
        }, options.timeoutMs)
      })
      await Promise.race([run.done, reached, timeout])
    } finally {
      clearTimeout(timer)
      check = undefined
      run.stop()
    }
    // A unit still running 5 s after Stop is terminated without waiting out the grace period.
    const killer = setTimeout(() => run.stop(), 5000)
    result = await run.done
    clearTimeout(killer)
  } finally {
    sockets.release()
  }
  const failed = result.units.filter((u) => u.status === 'failed')
  if (timedOut || result.reason === 'start-failed' || failed.length > 0) {
    const why = timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : result.reason === 'start-failed'
        ? 'failed to start'
        : `${failed.map((u) => `${u.unit} ${u.error ?? 'failed'}`).join('; ')}`
    throw new Error(`dataflow in ${dir} ${why}\n${logTail(logs)}`)
  }
  return { logs, result }
}

export function logTail(logs: readonly LogEntry[], lines = 30): string {
  return logs
    .slice(-lines)
    .map((l) => `[${l.source}] ${l.text}`)
    .join('\n')
}

/** Count log lines matching `pattern`. */
export const linesMatching = (logs: readonly LogEntry[], pattern: RegExp): number => logs.filter((l) => pattern.test(l.text)).length

/** Run `node script` with `env`, resolve on exit 0, reject otherwise (or after timeoutMs). */
export function runProcess(script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${script} ${args.join(' ')} timed out after ${timeoutMs} ms\n${stderr}`))
    }, timeoutMs)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      if (code === 0) resolve(stdout)
      else reject(new Error(`${script} ${args.join(' ')} exited with ${code ?? signal}\n${stderr}`))
    })
  })
}

/** A latency or stream plan between two bare zeromq.js processes over ipc. */
export async function zmqBaseline<T>(dir: string, plan: Plan, timeoutMs: number): Promise<T> {
  const planFile = writeJson(join(dir, 'plan.json'), plan)
  const out = join(dir, 'result.json')
  const sockets = socketDir()
  try {
    const env = { BENCH_PLAN: planFile, BENCH_OUT: out, ENDPOINT: `ipc://${join(sockets.path, 'zmq.sock')}` }
    const echo = runProcess(fixture('zmq-peer.mjs'), [], { ...env, ROLE: 'echo' }, timeoutMs)
    const ping = runProcess(fixture('zmq-peer.mjs'), [], { ...env, ROLE: 'ping' }, timeoutMs)
    await Promise.all([echo, ping])
  } finally {
    sockets.release()
  }
  return readJson<T>(out)
}

/** A latency or stream plan between two bare worker threads over a MessagePort. */
export async function portBaseline<T>(plan: Plan, timeoutMs: number): Promise<T> {
  const { MessageChannel } = await import('node:worker_threads')
  const channel = new MessageChannel()
  const script = fixture('port-peer.mjs')
  const echo = new Worker(script, { workerData: { role: 'echo', plan, port: channel.port2 }, transferList: [channel.port2] })
  const ping = new Worker(script, { workerData: { role: 'ping', plan, port: channel.port1 }, transferList: [channel.port1] })
  let timer: NodeJS.Timeout | undefined
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`the MessagePort baseline timed out after ${timeoutMs} ms`)), timeoutMs)
      ping.once('message', (result: T) => resolve(result))
      ping.once('error', reject)
      echo.once('error', reject)
    })
  } finally {
    clearTimeout(timer)
    await Promise.all([ping.terminate(), echo.terminate()])
  }
}

/** A pair `ping` -> `echo` -> `ping` of custom nodes or operators, as a dataflow YAML object. */
/**
 * How a pair's messages travel: through the supervisor (reliable with backpressure, which
 * keeps that path), on a best-effort link, on a reliable direct link through a link log (the
 * default between custom nodes run by node; between operators the supervisor's path),
 * or on a best-effort link with `_unstable_direct_links` (between operators: worker to worker,
 * runtime/operator/operator-links.ts).
 */
export type PairPath = 'supervisor' | 'best-effort' | 'direct' | 'best-effort-direct'

export function pairDataflow(
  name: string,
  ping: { kind: 'node' | 'operator'; script: string },
  echo: { kind: 'node' | 'operator'; script: string },
  env: Record<string, string>,
  path: PairPath = 'supervisor',
): object {
  // Direct links drop the oldest instead of waiting (backpressure needs the supervisor): the
  // queue is made large enough that a stream's window never overflows it, so nothing is
  // dropped and the figures compare the path.
  const input = (source: string): object =>
    path === 'best-effort' || path === 'best-effort-direct'
      ? { source, queue_size: 1_000_000, reliability: 'best_effort' }
      : path === 'direct'
        ? { source, queue_size: 1_000_000 }
        : { source, queue_size: 1_000_000, queue_policy: 'backpressure' }
  const unit = (id: string, u: { kind: 'node' | 'operator'; script: string }, source: string, extraEnv: Record<string, string>): object =>
    u.kind === 'node'
      ? { id, path: fixture(u.script), inputs: { in: input(source) }, outputs: ['out'], env: { ...env, ...extraEnv } }
      : { id, env: { ...env, ...extraEnv }, operator: { javascript: fixture(u.script), inputs: { in: input(source) }, outputs: ['out'] } }
  return {
    name,
    ...(path === 'direct' || path === 'best-effort-direct' ? { _unstable_direct_links: true } : {}),
    nodes: [unit('ping', ping, 'echo/out', {}), unit('echo', echo, 'ping/out', {})],
  }
}

/** Run a ping/echo pair with `plan` through dora-ts; the pinger writes its result to out. */
export async function doraPair<T>(
  dir: string,
  ping: { kind: 'node' | 'operator'; script: string },
  echo: { kind: 'node' | 'operator'; script: string },
  plan: Plan,
  timeoutMs: number,
  path: PairPath = 'supervisor',
): Promise<T> {
  const planFile = writeJson(join(dir, 'plan.json'), plan)
  const out = join(dir, 'result.json')
  const dataflow = pairDataflow('bench-pair', ping, echo, { BENCH_PLAN: planFile, BENCH_OUT: out }, path)
  // A pinging operator never ends by itself: stop when it says it is done.
  const until = ping.kind === 'operator' ? (logs: readonly LogEntry[]) => linesMatching(logs, /^BENCH_DONE/) > 0 : undefined
  await runDataflow(dir, dataflow, { timeoutMs, ...(until === undefined ? {} : { until }) })
  return readJson<T>(out)
}
