/**
 * Helpers for end-to-end tests: they drive the real CLI binary in a child process, against
 * real nodes (child processes) and operators (worker threads), with bounded waits.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type { Test } from 'tap'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const CLI = join(ROOT, 'dist', 'runtime', 'cli', 'main.js')

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunningCli {
  child: ChildProcess
  /** Everything printed so far. */
  output(): { stdout: string; stderr: string }
  /** Resolves once stdout+stderr matches `pattern` (rejects after `timeoutMs`). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  exited: Promise<CliResult>
}

export function startCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const listeners = new Set<() => void>()
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    stdout += c
    for (const l of listeners) l()
  })
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    stderr += c
    for (const l of listeners) l()
  })
  const exited = new Promise<CliResult>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return {
    child,
    output: () => ({ stdout, stderr }),
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const match = (stdout + stderr).match(pattern)
          if (match === null) return false
          listeners.delete(check)
          clearTimeout(timer)
          resolve(match)
          return true
        }
        const timer = setTimeout(() => {
          listeners.delete(check)
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`))
        }, timeoutMs)
        listeners.add(check)
        check()
        void exited.then(() => {
          if (listeners.has(check) && !check()) {
            listeners.delete(check)
            clearTimeout(timer)
            reject(new Error(`the CLI exited before printing ${pattern}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`))
          }
        })
      })
    },
  }
}

/** Run the CLI to completion; kills it (and fails) if it takes longer than `timeoutMs`. */
export async function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const cli = startCli(args, options)
  const timeoutMs = options.timeoutMs ?? 60_000
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      cli.child.kill('SIGKILL')
      const { stdout, stderr } = cli.output()
      reject(new Error(`dora-ts ${args.join(' ')} did not finish within ${timeoutMs} ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`))
    }, timeoutMs)
  })
  try {
    return await Promise.race([cli.exited, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** True while a process with this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Wait until every pid has exited, or fail after `timeoutMs`. */
export async function waitForExit(pids: number[], timeoutMs = 10_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const left = pids.filter(alive)
    if (left.length === 0 || Date.now() > deadline) return left
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Pids printed by nodes as `pid=<n>` lines. */
export function printedPids(text: string): number[] {
  return [...text.matchAll(/pid=(\d+)/g)].map((m) => Number(m[1]))
}

/**
 * A private runtime directory (DORA_TS_RUNTIME_DIR) for one test, short enough for Unix
 * socket paths (t.testdir() paths are too long), removed when the test ends.
 */
export function shortRuntimeDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'dts-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
