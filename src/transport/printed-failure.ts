/**
 * The error a program printed as it died, in one line, read off the end of its stderr: for a
 * node that fails before the SDK's crash note can say it (src/transport/crash-note.ts). A
 * syntax error in the node's own file, a module that is not installed, a Python node's
 * traceback: the run said `exited with code 1` over twenty lines of loader frames, and the
 * line that mattered (`SyntaxError: Unexpected token 'for'`, `ModuleNotFoundError: No module
 * named 'cv2'`) was in the middle, without the place it came from at its side.
 *
 * Three shapes are read, each only when it is what the output ends with:
 * - **Node's block for an uncaught exception**: `file:///x.mjs:3`, the source line, a caret, the
 *   message (`SyntaxError: ...`, `Error [ERR_MODULE_NOT_FOUND]: ...`), the stack, `Node.js v20...`.
 *   `node --check` prints the same block, which is how an operator's syntax error is placed.
 * - **esbuild's** (tsx compiling TypeScript): `Error: Transform failed with 1 error:` and then
 *   `/x.ts:2:0: ERROR: Expected ")" but found "console"`.
 * - **Python's traceback**: `File "x.py", line 3` frames, the exception last.
 *
 * @module
 */
import { clip, placeOf, programFrame } from './crash-note.js'

/** Node's last line for an uncaught exception. */
const NODE_VERSION = /^Node\.js v\d+\.\d+\.\d+$/
/** A frame of a stack as Node prints it (or its `... N lines matching ...`). */
const STACK_LINE = /^\s+(at |\.\.\. \d+ lines? )/
/** The first line of an error's message: `TypeError: ...`, `Error [ERR_X]: ...`, `Error [TransformError]: ...`. */
const ERROR_HEAD = /^([A-Z][\w$]*(?:Error|Exception)|Error)(?: \[([\w$]+)\])?: (.*)$/
/** The line above the source and the caret: where V8 placed a syntax error. */
const SOURCE_PLACE = /^((?:file:\/\/)?\/.*):(\d+)$/
/** esbuild's line for one error. */
const ESBUILD_ERROR = /^(.+?):(\d+):(\d+): ERROR: (.*)$/
/** A frame of a Python traceback. */
const PYTHON_FRAME = /^\s*File "(.+)", line (\d+)/
/** Python's last line: the exception's (dotted) name, and its message. */
const PYTHON_EXCEPTION = /^([A-Za-z_][\w.]*)(?:: (.*))?$/
/** Where installed packages live, in a Python path: a frame there is not the program's. */
const PYTHON_LIBRARY = /[/\\](site-packages|dist-packages|lib[/\\]python\d[\d.]*)[/\\]/

/**
 * One line for the error `lines` (the last lines of a process's stderr) end with: `Name:
 * message (at ./file:line[:col])`, the place relative to `cwd` when under it; undefined when
 * they end with none of the shapes above.
 */
export function printedFailure(lines: readonly string[], cwd: string): string | undefined {
  const end = lastNonEmpty(lines)
  if (end < 0) return undefined
  if (NODE_VERSION.test(lines[end]!)) {
    const summary = nodeBlock(lines, end, cwd)
    return summary === undefined ? undefined : clip(summary)
  }
  const python = pythonTraceback(lines)
  return python === undefined ? undefined : clip(`${python.exception} (at ${placeOf(python.file, cwd)}:${python.line})`)
}

function nodeBlock(lines: readonly string[], versionLine: number, cwd: string): string | undefined {
  // The stack is the last run of `at` lines before the version; the message is above it.
  let stackEnd = versionLine - 1
  while (stackEnd >= 0 && !STACK_LINE.test(lines[stackEnd]!)) stackEnd--
  if (stackEnd < 0) return undefined
  let stackStart = stackEnd
  while (stackStart > 0 && STACK_LINE.test(lines[stackStart - 1]!)) stackStart--
  let head = stackStart - 1
  while (head >= 0 && stackStart - head <= 10 && !ERROR_HEAD.test(lines[head]!)) head--
  if (head < 0 || stackStart - head > 10) return undefined
  const [, name, code, message] = ERROR_HEAD.exec(lines[head]!)!
  const esbuild = esbuildFailure(lines.slice(head, stackStart), cwd)
  if (esbuild !== undefined) return esbuild
  const text = `${name}${code === undefined ? '' : ` [${code}]`}: ${message}`
  const frame = programFrame(lines.slice(stackStart, stackEnd + 1), cwd)
  if (frame !== undefined) return `${text} (at ${frame})`
  // A syntax error's stack is the loader's alone: V8 names its line above the source line and
  // the caret.
  for (let i = head - 1; i >= 0 && i >= head - 6; i--) {
    const at = SOURCE_PLACE.exec(lines[i]!)
    if (at !== null) return `${text} (at ${placeOf(at[1]!, cwd)}:${at[2]})`
  }
  return text
}

/**
 * The error of esbuild's `Transform failed` message (`message`, by lines), as `SyntaxError:
 * what (at ./file:line:col)`: what tsx throws for TypeScript it cannot compile. Undefined for
 * any other message.
 */
export function esbuildFailure(message: readonly string[], cwd: string): string | undefined {
  const head = /^(?:[\w$]+(?: \[[\w$]+\])?: )?Transform failed with \d+ errors?:$/.test(message[0] ?? '') ? ESBUILD_ERROR.exec(message[1] ?? '') : null
  return head === null ? undefined : `SyntaxError: ${head[4]} (at ${placeOf(head[1]!, cwd)}:${head[2]}:${head[3]})`
}

/**
 * The exception a Python traceback in `lines` ends with (`Name: message`), and the frame it is
 * placed at: the one nearest the end in the program's own files, else the last. Undefined when
 * `lines` do not end with a traceback.
 */
export function pythonTraceback(lines: readonly string[]): { exception: string; file: string; line: string } | undefined {
  const end = lastNonEmpty(lines)
  if (end < 0) return undefined
  const exception = PYTHON_EXCEPTION.exec(lines[end]!)
  // Python's exception line comes right after the indented lines of its traceback.
  if (exception === null || end === 0 || !/^\s/.test(lines[end - 1]!)) return undefined
  let frame: RegExpExecArray | undefined
  for (let i = end - 1; i >= 0; i--) {
    const found = PYTHON_FRAME.exec(lines[i]!)
    if (found === null) continue
    frame ??= found
    // The frame nearest the end in the program's own files, else the last one.
    if (!PYTHON_LIBRARY.test(found[1]!)) {
      frame = found
      break
    }
  }
  if (frame === undefined) return undefined
  return { exception: exception[2] === undefined ? exception[1]! : `${exception[1]}: ${exception[2]}`, file: frame[1]!, line: frame[2]! }
}

function lastNonEmpty(lines: readonly string[]): number {
  let i = lines.length - 1
  while (i >= 0 && lines[i]!.trim() === '') i--
  return i
}
