/**
 * Why a custom node's process died, in one line, for the run's report. A node that dies of an
 * uncaught exception exits with code 1 (7 for a throwing handler), and Node prints the error
 * to stderr as a block: the source line, a caret, the message, the stack, `Node.js v20...`.
 * The run said only `exited with code 1`, with the last stderr lines, which for that block are
 * the end of the stack (a KVS error's inspected fields, the Node version), not the message.
 *
 * So the supervisor names a file per process in the node's environment
 * ({@link CRASH_NOTE_ENV}, in the run's private directory), and the SDK, as it is imported,
 * watches for the uncaught exception that will end the process (`uncaughtExceptionMonitor`:
 * it changes nothing of Node's own handling, which still prints the block and exits) and
 * writes there `TypeError: x is not a function (at ./nodes/camera.ts:43:12)`, our errors with
 * their code. The supervisor reads it when the process has ended with a non-zero code and
 * adds it to the failure: `exited with code 1: TypeError: ...`. An exception the program
 * handles itself (an `uncaughtException` listener of its own) writes nothing of it, but a
 * `process.exit(code)` it then calls is noted with its place, as is any such call of the
 * program's (noteFatalExceptions). A process killed by a signal writes nothing, nor does one
 * that fails before it imports the SDK (a syntax error): what its stderr ends with names it
 * (printed-failure.ts).
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { unlinkQuietly } from '../unlink-quietly.js'
import { segmentPrefix } from './shm-dir.js'

/** The file a node's process writes its fatal uncaught exception to (set by the supervisor per process). */
export const CRASH_NOTE_ENV = 'DORA_TS_CRASH_NOTE'

/** The longest note kept: a message is one line of a report, not a dump. */
const MAX_NOTE_CHARS = 500

/** The note file of process `restartCount` of node `nodeId`, in the run's private directory. */
export function crashNotePath(runDir: string, nodeId: string, restartCount: number): string {
  return join(runDir, `${segmentPrefix(nodeId)}${restartCount}@crash`)
}

/**
 * Where this package's own code lives, whether it runs as tsc emitted it (dist/src/...), as
 * the SDK's bundle (dist/node-sdk/bundle.js) or mapped back to its sources: frames there are
 * the SDK's, not the program's. (Not the package folder as a whole: in this repository the
 * examples' nodes live in it.)
 */
const OWN_CODE = ((): string[] => {
  const here = fileURLToPath(import.meta.url)
  const dist = here.lastIndexOf(`${sep}dist${sep}`)
  const root = dist < 0 ? join(here, '..', '..', '..') : here.slice(0, dist)
  return ['dist', 'src', 'node-sdk', 'runtime'].map((dir) => join(root, dir) + sep)
})()

/**
 * One line for an uncaught `value`: `Name: message [CODE] (at file:line:col)`, the place the
 * first frame of its stack in the program's own code, relative to `cwd` when under it.
 */
export function describeUncaught(value: unknown, cwd = process.cwd()): string {
  if (!(value instanceof Error)) return clip(`uncaught value: ${typeof value === 'string' ? value : safeString(value)}`)
  const code = (value as { code?: unknown }).code
  const tag = typeof code === 'string' && code.startsWith('DORA_') ? ` [${code}]` : ''
  const firstLine = value.message.split('\n', 1)[0] ?? ''
  const at = programFrame(framesOf(value.stack), cwd)
  return clip(`${value.name}: ${firstLine}${tag}${at === undefined ? '' : ` (at ${at})`}`)
}

/** The frames of an error's `stack`: its lines after the message's. */
function framesOf(stack: string | undefined): string[] {
  return (stack ?? '').split('\n').slice(1)
}

/**
 * The first `file:line:col` of the stack frames `frames` (`    at f (file:///x.mjs:3:9)`, one a
 * line) outside Node, packages and this one's code, placed by {@link placeOf}.
 */
export function programFrame(frames: readonly string[], cwd: string): string | undefined {
  for (const line of frames) {
    const frame = /(?:^|[\s(])((?:file:\/\/)?\/[^()\s]*?):(\d+):(\d+)\)?$/.exec(line.trim())
    if (frame === null) continue
    const file = frame[1]!.startsWith('file://') ? fileURLToPath(frame[1]!) : frame[1]!
    if (file.includes(`${sep}node_modules${sep}`) || OWN_CODE.some((dir) => file.startsWith(dir))) continue
    return `${placeOf(file, cwd)}:${frame[2]}:${frame[3]}`
  }
  return undefined
}

/** `file` (a path or a file: URL) relative to `cwd` when under it, as `./x`; else absolute. */
export function placeOf(file: string, cwd: string): string {
  const path = file.startsWith('file://') ? fileURLToPath(file) : file
  const rel = relative(cwd, path)
  return rel.startsWith('..') ? path : `.${sep}${rel}`
}

function safeString(value: unknown): string {
  try {
    return String(value)
  } catch {
    return typeof value
  }
}

/** `text` cut to {@link MAX_NOTE_CHARS}: one line of a report. */
export function clip(text: string): string {
  return text.length <= MAX_NOTE_CHARS ? text : `${text.slice(0, MAX_NOTE_CHARS - 3)}...`
}

let watching = false

/**
 * Write the exception that is about to end this process to `path` (once per process; a no-op
 * without a path). Node ends the process for an uncaught exception only while nobody listens
 * for `uncaughtException`; with a listener of the program's own, nothing is written.
 *
 * A process that ends itself with `process.exit(code)`, code not 0, is noted too, with the
 * place of the call: Node prints nothing then, and the run said `exited with code 1` alone
 * (a driver's `if (!port) process.exit(1)` deep in a node). Node emits `exit` inside the call,
 * so the stack there holds its caller; a process that ends with `process.exitCode` set, or a
 * call made by the SDK or a package with no frame of the program's below it, has none, and
 * nothing is written.
 */
export function noteFatalExceptions(path: string | undefined): void {
  if (path === undefined || path === '' || watching) return
  watching = true
  let written = false
  const write = (text: string): void => {
    written = true
    try {
      writeFileSync(path, text, { mode: 0o600 })
    } catch {
      // Best effort by nature: the process is ending, and its stderr still has the error.
    }
  }
  process.on('uncaughtExceptionMonitor', (err) => {
    if (process.listenerCount('uncaughtException') > 0) return
    write(describeUncaught(err))
  })
  process.on('exit', (code) => {
    if (code === 0 || written) return
    const note = exitCallNote(code)
    if (note !== undefined) write(note)
  })
}

/**
 * `process.exit(code) called (at ./file:line:col)`, for a listener of `exit` to call: Node emits
 * it inside a `process.exit()`, so the stack there holds the program's call; undefined when it
 * has no frame of the program's (an end with `process.exitCode` set, a call of a package's).
 */
export function exitCallNote(code: number, cwd = process.cwd()): string | undefined {
  const at = programFrame(framesOf(new Error().stack), cwd)
  return at === undefined ? undefined : `process.exit(${code}) called (at ${at})`
}

/** Take (read and delete) the note a process left at `path`; undefined when there is none. Never throws. */
export function takeCrashNote(path: string): string | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
  unlinkQuietly(path)
  const line = clip(text.split('\n', 1)[0]!.trim())
  return line === '' ? undefined : line
}
