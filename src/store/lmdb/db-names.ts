/** What the state store and the KVS both need to know about an LMDB environment's layout. */
import type { RootDatabase } from 'lmdb'

/** Names of the named databases: the keys of LMDB's main database, minus lmdb-js's trailing NUL. */
export function listDbNames(env: RootDatabase<Buffer, Buffer>): string[] {
  const names: string[] = []
  for (const raw of env.getKeys()) {
    const name = Buffer.from(raw).toString('utf8')
    names.push(name.endsWith('\0') ? name.slice(0, -1) : name)
  }
  return names
}
