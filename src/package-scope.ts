/**
 * package.json files as Node finds them: the one that decides a file's module format (the
 * nearest above it), and this copy of dora-ts's own.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** What of a package.json is read here. */
export interface PackageJson {
  name?: unknown
  version?: unknown
  type?: unknown
}

/** A package.json found above a path: its file, and its contents (undefined: not valid JSON). */
export interface PackageScope {
  file: string
  json: PackageJson | undefined
}

/** The nearest package.json above `path` (a file or a folder) and up to the root, as Node looks for it. */
export function packageScopeOf(path: string, accept: (scope: PackageScope) => boolean = () => true): PackageScope | undefined {
  for (let dir = path; ;) {
    const file = join(dir, 'package.json')
    let text: string | undefined
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      text = undefined
    }
    if (text !== undefined) {
      const scope = { file, json: parseJson(text) }
      if (accept(scope)) return scope
    }
    const parent = dirname(dir)
    if (parent === dir) return undefined
    dir = parent
  }
}

function parseJson(text: string): PackageJson | undefined {
  try {
    const json = JSON.parse(text) as unknown
    return typeof json === 'object' && json !== null ? (json as PackageJson) : undefined
  } catch {
    return undefined
  }
}

/** This copy of dora-ts: its folder and version (from dist/... when built, from the sources in tests). */
export function ownPackage(): { root: string; version: string } {
  const here = fileURLToPath(import.meta.url)
  const scope = packageScopeOf(here, (s) => s.json?.name === 'dora-ts')
  if (scope === undefined || typeof scope.json?.version !== 'string') throw new Error(`no dora-ts package.json above ${here}`)
  return { root: dirname(scope.file), version: scope.json.version }
}
