/**
 * Files the CLI writes for the user (`dora-ts graph`'s page, `dora-ts new`'s scaffolds), with
 * errors that say which file and what to do instead of a raw errno.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { DoraError, registerErrorClass, errorMessage } from '../../src/errors.js'

/** A file the CLI was asked to create already exists; nothing was written. */
export class FileExistsError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_CLI_FILE_EXISTS', message, options)
  }
}
registerErrorClass(FileExistsError)

/** A file or folder the CLI had to write could not be written (permissions, a full disk, ...). */
export class FileWriteError extends DoraError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('DORA_CLI_WRITE', message, options)
  }
}
registerErrorClass(FileWriteError)

/**
 * Write `text` to `file`, creating its folder. `exclusive` refuses to replace an existing file
 * (O_EXCL, so a file created meanwhile is not clobbered either).
 */
export function writeTextFile(file: string, text: string, options: { exclusive?: boolean; mode?: number } = {}): void {
  try {
    mkdirSync(dirname(file), { recursive: true })
  } catch (err) {
    throw new FileWriteError(`cannot write ${file}: cannot create its folder (${errorMessage(err)})`, {
      hint: 'Check the path: a file may be in the way of a folder, or the place is not writable.',
      cause: err,
    })
  }
  try {
    writeFileSync(file, text, { flag: options.exclusive === true ? 'wx' : 'w', mode: options.mode ?? 0o644 })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EEXIST' && options.exclusive === true) {
      throw new FileExistsError(`${file} already exists; dora-ts does not overwrite files`, {
        hint: 'Choose another name or --dir, or move the existing file away first.',
        cause: err,
      })
    }
    throw new FileWriteError(`cannot write ${file}: ${errorMessage(err)}`, {
      hint: 'Check that the folder exists and is writable, or choose another path.',
      cause: err,
    })
  }
}
