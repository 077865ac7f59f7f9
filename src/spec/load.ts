/**
 * Loading a dataflow YAML: read, parse (with positions), validate, resolve. The result is the
 * {@link DataflowSpec} the runtime runs; every problem found is thrown at once as
 * {@link SpecErrors}.
 *
 * @module
 */

import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { LineCounter, parseDocument } from 'yaml'
import { createSpecError, SpecErrors } from './errors.js'
import { Positions } from './positions.js'
import { Problems } from './problems.js'
import { resolveDraft } from './resolve.js'
import type { DataflowSpec } from './types.js'
import { validateDocument } from './validate.js'

export interface LoadOptions {
  /**
   * Check that every node `path` and operator module exists (default true). `dora-ts check`
   * and `run` keep it on; tools that only need the graph can turn it off.
   */
  checkFiles?: boolean | undefined
}

/**
 * Read, validate and resolve the dataflow YAML at `file`.
 *
 * @throws {@link SpecErrors} (code `DORA_SPEC_INVALID`) listing every problem, each a
 *   {@link SpecError} with file, line and column; a file that cannot be read gives one
 *   `DORA_SPEC_FILE_NOT_FOUND` problem.
 * @example
 * const spec = await loadDataflow('examples/robot/dataflow.yml')
 * for (const node of spec.nodes) console.log(node.id, node.kind)
 */
export async function loadDataflow(file: string, options: LoadOptions = {}): Promise<DataflowSpec> {
  const abs = resolve(file)
  let text: string
  try {
    text = await readFile(abs, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const detail =
      code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'this is a directory, not a YAML file' : `cannot read the file (${code ?? String(err)})`
    throw new SpecErrors([
      createSpecError(
        'DORA_SPEC_FILE_NOT_FOUND',
        detail,
        { file: abs, line: 0, column: 0 },
        'pass the path of the dataflow YAML, e.g. `dora-ts run dataflow.yml`',
        err,
      ),
    ])
  }
  // A binary file (an image, a compiled program passed by mistake) is refused, not parsed and
  // echoed back to the terminal.
  if (text.includes('\0') || text.includes('\uFFFD')) {
    throw new SpecErrors([
      createSpecError(
        'DORA_SPEC_YAML_SYNTAX',
        'this file is not text (it holds NUL bytes or bytes that are not UTF-8), so it is not a dataflow YAML',
        { file: abs, line: 0, column: 0 },
        'pass the path of the dataflow YAML, e.g. `dora-ts run dataflow.yml`',
      ),
    ])
  }
  return parseDataflow(text, abs, options)
}

/**
 * Validate and resolve dataflow YAML `text` as if read from `file` (relative paths in it are
 * resolved against the file's folder). Synchronous; touches the disk only to check that
 * executables and modules exist (when `checkFiles`, the default) and to find bare commands
 * such as `path: python3` on PATH.
 *
 * @throws {@link SpecErrors} listing every problem.
 */
export function parseDataflow(text: string, file: string, options: LoadOptions = {}): DataflowSpec {
  const abs = resolve(file)
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: true, prettyErrors: false, uniqueKeys: false })
  const problems = new Problems(new Positions(abs, lineCounter))
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const at = problems.positions.ofOffset(err.pos[0])
      if (err.code === 'MULTIPLE_DOCS') {
        problems.add(
          'DORA_SPEC_YAML_SYNTAX',
          at,
          {},
          'YAML syntax error: the file holds more than one YAML document',
          'a dataflow is one document: remove the `---` line and what follows, or move it to its own file',
        )
      } else {
        problems.add(
          'DORA_SPEC_YAML_SYNTAX',
          at,
          {},
          `YAML syntax error: ${err.message}`,
          'fix the YAML syntax (check the indentation and the quotes around that place)',
        )
      }
    }
    problems.throwIfAny()
  }
  const draft = validateDocument(doc, problems)
  // validateDocument only gives up after recording why.
  if (draft === undefined) throw new SpecErrors(problems.errors)
  const spec = resolveDraft(draft, problems, { file: abs, checkFiles: options.checkFiles ?? true })
  problems.throwIfAny()
  return problems.notes.length === 0 ? spec : { ...spec, notes: [...problems.notes] }
}
