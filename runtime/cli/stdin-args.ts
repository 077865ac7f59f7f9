/** Command-line preprocessing that yargs cannot express (kept apart: main.ts loads it for every command). */

/**
 * `-` means stdin, as in most Unix tools, but yargs reads a lone `-` as an empty string (a
 * positional) or as "no value" (`--file -`). Rewrite `kvs put KEY -` and `--file -` to the
 * unambiguous `--file=-` before yargs sees them.
 */
export function normalizeStdinArgs(argv: readonly string[]): string[] {
  const out: string[] = []
  const isPut = argv[0] === 'kvs' && argv.includes('put')
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--file' && argv[i + 1] === '-') {
      out.push('--file=-')
      i++
    } else if (isPut && arg === '-') {
      out.push('--file=-')
    } else {
      out.push(arg)
    }
  }
  return out
}
