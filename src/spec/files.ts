/**
 * Finding the files a dataflow names: node executables (relative to the YAML's folder, or a
 * command on PATH as dora allows) and operator modules.
 *
 * @module
 */

import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs'
import { delimiter, extname, isAbsolute, resolve } from 'node:path'

/**
 * How a custom node is started, from its file extension: `.ts` with node and tsx, `.js` with
 * node, `.py` with python3 (as dora does: Python scripts are rarely executable), anything else
 * executed (a script without the executable bit through its `#!` line, see {@link shebangOf}).
 */
export function runtimeOf(path: string): 'ts' | 'js' | 'py' | 'exe' {
  const ext = extname(path).toLowerCase()
  if (ext === '.ts' || ext === '.mts' || ext === '.cts') return 'ts'
  if (ext === '.js' || ext === '.mjs' || ext === '.cjs') return 'js'
  if (ext === '.py') return 'py'
  return 'exe'
}

/**
 * The interpreter and its argument from a script's `#!` line (`#!/usr/bin/env bash` ->
 * ['/usr/bin/env', 'bash']), or undefined when the file does not start with one. Used for
 * scripts that lack the executable bit: the kernel would refuse them with EACCES.
 */
export function shebangOf(path: string): string[] | undefined {
  let head: string
  try {
    const fd = openSync(path, 'r')
    try {
      const buf = Buffer.alloc(256)
      head = buf.subarray(0, readSync(fd, buf, 0, buf.length, 0)).toString('utf8')
    } finally {
      closeSync(fd)
    }
  } catch {
    return undefined
  }
  if (!head.startsWith('#!')) return undefined
  const words = head
    .slice(2)
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '')
  return words.length === 0 ? undefined : words
}

/** True when `path` is an existing regular file (following symlinks). */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}

/** True when `path` is an existing directory. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** A bare command name such as `python3`: no directory part, not starting with `.`. */
export function isBareCommand(value: string): boolean {
  return !value.includes('/') && !value.includes('\\') && !value.startsWith('.') && !isAbsolute(value)
}

/**
 * The absolute path of `command` found on PATH (as a shell would), or undefined. On Windows
 * the PATHEXT extensions are tried too.
 */
export function findOnPath(command: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? '').split(delimiter).filter((d) => d !== '')
  /* c8 ignore next -- Windows only */
  const exts = process.platform === 'win32' ? ['', ...(env.PATHEXT ?? '.EXE;.CMD;.BAT;.COM').split(';')] : ['']
  for (const dir of dirs) {
    for (const ext of exts) {
      const candidate = resolve(dir, command + ext)
      if (isFile(candidate) && isExecutable(candidate)) return candidate
    }
  }
  return undefined
}

/** True when the current user may execute `path` (always on Windows). */
export function isExecutable(path: string): boolean {
  /* c8 ignore next -- Windows has no executable bit */
  if (process.platform === 'win32') return true
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

export type ExecutableResult = { found: true; path: string } | { found: false; path: string; reason: string }

/**
 * Where a node's `path:` points. A path with a directory part is resolved against `baseDir`.
 * A bare name is first looked for next to the YAML, then on PATH (`path: python3`). When the
 * file cannot be found the result still carries the best guess at an absolute path.
 */
export function resolveExecutable(value: string, baseDir: string): ExecutableResult {
  const local = resolve(baseDir, value)
  if (isFile(local)) return { found: true, path: local }
  if (isBareCommand(value)) {
    const onPath = findOnPath(value)
    if (onPath !== undefined) return { found: true, path: onPath }
    return { found: false, path: local, reason: `"${value}" is neither a file in ${baseDir} nor a command on PATH` }
  }
  if (isDirectory(local)) return { found: false, path: local, reason: `"${value}" is a directory (${local}), not a file` }
  return { found: false, path: local, reason: `"${value}" does not exist (looked for ${local})` }
}

/** Where an operator module points: always relative to `baseDir`. */
export function resolveModule(value: string, baseDir: string): ExecutableResult {
  const local = resolve(baseDir, value)
  if (isFile(local)) return { found: true, path: local }
  if (isDirectory(local)) return { found: false, path: local, reason: `"${value}" is a directory (${local}), not a file` }
  return { found: false, path: local, reason: `"${value}" does not exist (looked for ${local})` }
}
