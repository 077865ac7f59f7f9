/**
 * The KVS namespace limit (issue 14, defect 7): the namespace past the limit is refused with
 * DORA_KVS_TOO_MANY_NAMESPACES naming the limit and what to do, not a bare DORA_KVS_OPEN.
 * In /dev/shm when there is one: the 499 namespaces are 499 fsync'ed commits.
 */
import t from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KvsStore } from '../../../src/store/kvs/store.js'
import { MAX_KVS_NAMESPACES } from '../../../src/store/kvs/errors.js'

const base = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'dora-kvs-limit-'))
t.teardown(() => rmSync(base, { recursive: true, force: true }))

t.test(`the namespace past ${MAX_KVS_NAMESPACES} is a clear limit error; the others still work`, async (t) => {
  const store = KvsStore.open({ dir: join(base, 'kvs') })
  t.teardown(() => store.close())
  for (let i = 0; i < MAX_KVS_NAMESPACES; i++) store.namespace(`ns${i}`).write('k', Buffer.from('v'))
  t.equal(store.namespaces().length, MAX_KVS_NAMESPACES)
  t.throws(() => store.namespace('one-too-many').write('k', Buffer.from('v')), {
    code: 'DORA_KVS_TOO_MANY_NAMESPACES',
    message: new RegExp(`this process already has ${MAX_KVS_NAMESPACES} namespaces of the KVS in .* open`),
    hint: /--kvs-dir[\s\S]*kvs_namespace[\s\S]*kvs drop-namespace/,
  })
  store.namespace('ns0').write('k2', Buffer.from('still writable'))
  t.equal(store.namespace('ns0').read('k2')?.toString(), 'still writable')
})
