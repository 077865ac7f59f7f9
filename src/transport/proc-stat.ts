/**
 * Fields of a `/proc/<pid>/stat` line by the number proc(5) gives them. The command (field 2)
 * is in parentheses and may itself hold spaces and parentheses, so the fields after it are
 * counted from the last `)`.
 *
 * @module
 */

/**
 * The fields of a stat line, split once: field `n` by proc(5)'s numbering, 3 or more (3 the
 * state, 5 the process group, 14-17 the CPU times, 22 the start time).
 */
export function statFields(stat: string): (n: number) => string | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (n) => fields[n - 3]
}
