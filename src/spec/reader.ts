/**
 * Typed reads of YAML AST values that record a positioned problem instead of throwing, so one
 * pass over the document reports every mistake.
 *
 * @module
 */

import { isAlias, isMap, isScalar, isSeq, type Document, type Node, type Pair, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml'
import { didYouMean } from './did-you-mean.js'
import { BYTE_SIZE_EXAMPLE, parseByteSize } from './byte-size.js'
import { parseDuration } from './duration.js'
import { misplacedKeyHint, type KeyInfo, type SupportedKey } from './keys.js'
import type { Problems, Scope } from './problems.js'

/** One key of a mapping with its value. */
export interface Field {
  name: string
  key: Node
  /** The value (aliases resolved); null for a missing value in a flow mapping (`{a}`). */
  value: Node | null
  pair: Pair
}

/** The supported keys of a mapping that were present. */
export type Fields<T> = Partial<Record<SupportedKey<T>, Field>>

/** {@link Reader.fields}' result: the usable keys, and the names of those it rejected. */
export interface FieldsResult<T> {
  fields: Fields<T>
  /** Unknown and unsupported keys: a typo here may explain a "missing" key elsewhere. */
  rejected: string[]
}

/** Reads values of one parsed document, recording problems in `problems`. */
export class Reader {
  constructor(
    private readonly doc: Document,
    readonly problems: Problems,
  ) {}

  /** The node itself, or the node an alias points to. */
  deref(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null
    if (isScalar(node) || isMap(node) || isSeq(node)) return node
    return null
  }

  /** A short description of a value's type for "expected X, got Y" messages. */
  describe(node: Node | null): string {
    if (node === null) return 'nothing'
    if (isMap(node)) return 'a mapping'
    if (isSeq(node)) return 'a list'
    if (isScalar(node)) {
      const v = node.value
      if (v === null || v === undefined) return 'an empty value'
      if (typeof v === 'string') return `the string "${v}"`
      if (typeof v === 'number' || typeof v === 'bigint') return `the number ${String(v)}`
      if (typeof v === 'boolean') return `the boolean ${String(v)}`
    }
    /* c8 ignore next -- dates and other tagged scalars need custom tags we do not enable */
    return 'an unsupported value'
  }

  /** Record "`key` must be <expected>, got <actual>". */
  wrongType(field: Field, scope: Scope, expected: string, hint?: string, suggestion = ''): void {
    this.problems.add(
      'DORA_SPEC_INVALID_VALUE',
      this.valueOrKey(field.value, field.key),
      scope,
      `\`${field.name}\` must be ${expected}, got ${this.describe(field.value)}${suggestion}`,
      hint,
    )
  }

  /**
   * Where to point for a problem with a value: the value, or its key when the value is empty
   * (an empty value's position is wherever the parser stopped, often the next line).
   */
  valueOrKey(value: Node | null, key: Node | Pair | null): Node | Pair | null {
    return value === null || (isScalar(value) && (value.value === null || value.value === undefined)) ? key : value
  }

  /** The mapping at `node`, or undefined (with a problem saying `what` it should be). */
  asMap(node: Node | null, where: Node | Pair | null, scope: Scope, what: string): YAMLMap | undefined {
    if (isMap(node)) return node
    this.problems.add('DORA_SPEC_INVALID_VALUE', this.valueOrKey(node, where), scope, `${what} must be a mapping, got ${this.describe(node)}`)
    return undefined
  }

  /**
   * The keys of a mapping checked against `table`: unknown keys (with a did-you-mean),
   * unsupported dora keys and repeated keys become problems; the rest are returned by name.
   * `level` names the mapping in messages, e.g. `node` or `operator`.
   */
  fields<T extends Readonly<Record<string, KeyInfo>>>(map: YAMLMap, table: T, level: string, scope: Scope): FieldsResult<T> {
    const seen = new Map<string, Node>()
    const fields: Record<string, Field> = {}
    const rejected: string[] = []
    for (const pair of map.items) {
      const key = this.deref(pair.key)
      if (!isScalar(key) || (typeof key.value !== 'string' && typeof key.value !== 'number')) {
        this.problems.add('DORA_SPEC_INVALID_VALUE', key ?? pair, scope, `${level} keys must be strings, got ${this.describe(key)}`)
        continue
      }
      const name = String(key.value)
      const first = seen.get(name)
      if (first !== undefined) {
        const line = this.problems.positions.of(first).line
        this.problems.add(
          'DORA_SPEC_DUPLICATE_KEY',
          key,
          scope,
          `key \`${name}\` appears twice in this ${level} (first on line ${line})`,
          'remove one of them; YAML mappings cannot repeat a key',
        )
        continue
      }
      seen.set(name, key)
      const info: KeyInfo | undefined = Object.hasOwn(table, name) ? table[name] : undefined
      if (info === undefined) {
        const allowed = Object.keys(table)
        this.problems.add(
          'DORA_SPEC_UNKNOWN_KEY',
          key,
          scope,
          `unknown ${level} key \`${name}\`${didYouMean(name, allowed)}`,
          misplacedKeyHint(level, name) ?? `${level} keys are: ${allowed.filter((k) => table[k]?.unsupported === undefined).join(', ')}`,
        )
        rejected.push(name)
        continue
      }
      if (info.unsupported !== undefined) {
        this.problems.add('DORA_SPEC_NOT_SUPPORTED', key, scope, `${level} key \`${name}\` is not supported yet`, info.unsupported)
        rejected.push(name)
        continue
      }
      fields[name] = { name, key, value: this.deref(pair.value), pair }
    }
    return { fields: fields as Fields<T>, rejected }
  }

  /** A string value (empty allowed only when `allowEmpty`). */
  string(field: Field | undefined, scope: Scope, allowEmpty = false): string | undefined {
    if (field === undefined) return undefined
    const v = field.value
    if (isScalar(v) && typeof v.value === 'string' && (allowEmpty || v.value !== '')) {
      // A NUL cannot reach a path, an argument or an environment variable (Node refuses it
      // at spawn with a raw message): refuse it here, where the position is known.
      if (!v.value.includes('\0')) return v.value
      this.problems.add('DORA_SPEC_INVALID_VALUE', v, scope, 'this value contains a NUL character (\\0), which no path, argument or name may hold', 'remove it')
      return undefined
    }
    this.wrongType(field, scope, allowEmpty ? 'a string' : 'a non-empty string')
    return undefined
  }

  /** `true` or `false`. */
  boolean(field: Field | undefined, scope: Scope): boolean | undefined {
    if (field === undefined) return undefined
    const v = field.value
    if (isScalar(v) && typeof v.value === 'boolean') return v.value
    this.wrongType(field, scope, '`true` or `false`')
    return undefined
  }

  /** An integer >= `min`. */
  integer(field: Field | undefined, scope: Scope, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    if (field === undefined) return undefined
    const v = field.value
    if (isScalar(v) && typeof v.value === 'number' && Number.isSafeInteger(v.value) && v.value >= min && v.value <= max) return v.value
    const range = max < Number.MAX_SAFE_INTEGER ? `an integer from ${min} to ${max}` : min === 0 ? 'a non-negative integer' : `an integer >= ${min}`
    this.wrongType(field, scope, range)
    return undefined
  }

  /** A size in bytes: a positive integer or a string with a unit (byte-size.ts). */
  byteSize(field: Field | undefined, scope: Scope): number | undefined {
    if (field === undefined) return undefined
    const v = field.value
    const bytes = isScalar(v) ? parseByteSize(v.value) : undefined
    if (bytes !== undefined) return bytes
    this.wrongType(field, scope, 'a size', `write ${BYTE_SIZE_EXAMPLE}`)
    return undefined
  }

  /** A duration in seconds: a number or a string with a unit; `positive` excludes 0. */
  duration(field: Field | undefined, scope: Scope, positive: boolean): number | undefined {
    if (field === undefined) return undefined
    const v = field.value
    const seconds = isScalar(v) ? parseDuration(v.value) : undefined
    if (seconds !== undefined && (!positive || seconds > 0)) return seconds
    this.wrongType(
      field,
      scope,
      `a ${positive ? 'positive' : 'non-negative'} duration`,
      'write a number of seconds (e.g. 0.5) or a string with a unit: ns, us, ms, s, m or h (e.g. "500ms", "2s")',
    )
    return undefined
  }

  /** One of `values`. */
  oneOf<V extends string>(field: Field | undefined, scope: Scope, values: readonly V[]): V | undefined {
    if (field === undefined) return undefined
    const v = field.value
    if (isScalar(v) && typeof v.value === 'string' && (values as readonly string[]).includes(v.value)) return v.value as V
    const suggestion = isScalar(v) && typeof v.value === 'string' ? didYouMean(v.value, values) : ''
    this.wrongType(field, scope, `one of ${values.join(', ')}`, undefined, suggestion)
    return undefined
  }

  /** A list, or undefined (with a problem). */
  list(field: Field | undefined, scope: Scope, expected: string): YAMLSeq | undefined {
    if (field === undefined) return undefined
    if (isSeq(field.value)) return field.value
    this.wrongType(field, scope, expected)
    return undefined
  }

  /** An environment mapping: string keys, values string/number/boolean, stringified. */
  env(field: Field | undefined, scope: Scope): Record<string, string> {
    const env: Record<string, string> = {}
    if (field === undefined) return env
    const map = field.value
    if (!isMap(map)) {
      this.wrongType(field, scope, 'a mapping of variable names to values')
      return env
    }
    const seen = new Map<string, Node>()
    for (const pair of map.items) {
      const key = this.deref(pair.key)
      if (!isScalar(key) || (typeof key.value !== 'string' && typeof key.value !== 'number') || String(key.value) === '') {
        this.problems.add('DORA_SPEC_INVALID_VALUE', key ?? pair, scope, `\`env\` variable names must be non-empty strings, got ${this.describe(key)}`)
        continue
      }
      const name = String(key.value)
      const first = seen.get(name)
      if (first !== undefined) {
        this.problems.add(
          'DORA_SPEC_DUPLICATE_KEY',
          key,
          scope,
          `\`env\` variable \`${name}\` is set twice (first on line ${this.problems.positions.of(first).line})`,
          'remove one of them',
        )
        continue
      }
      seen.set(name, key)
      const value = this.deref(pair.value)
      const v = isScalar(value) ? value.value : undefined
      if (typeof v === 'string' && (v.includes('\0') || name.includes('\0'))) {
        this.problems.add(
          'DORA_SPEC_INVALID_VALUE',
          value ?? pair,
          scope,
          `\`env\` variable \`${name.replace(/\0/g, '\\0')}\` contains a NUL character (\\0), which no environment variable may hold`,
          'remove it',
        )
      } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
        env[name] = String(v)
      } else {
        this.problems.add(
          'DORA_SPEC_INVALID_VALUE',
          this.valueOrKey(value, key),
          scope,
          `\`env\` variable \`${name}\` must be a string, number or boolean, got ${this.describe(value)}`,
          'give it a value; write "" for an empty string',
        )
      }
    }
    return env
  }

  /** The scalar string of a sequence item or mapping key, or undefined. */
  scalarString(node: Node | null): Scalar<string> | undefined {
    return isScalar(node) && typeof node.value === 'string' ? (node as Scalar<string>) : undefined
  }
}
