/**
 * Who holds the KVS write lock (src/store/kvs/write-lock.ts), as DORA_KVS_STALLED names it:
 * read from lock.mdb of a real KVS while a real process holds the lock inside an update.
 */
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { KvsStore } from '../../../src/store/kvs/store.js'
import { describeStall, writeLockHolder } from '../../../src/store/kvs/write-lock.js'
import { fixture } from '../../fixtures/nodes.js'

t.test(
  'the holder of the write lock is named by pid and command; nobody, once it is gone',
  { skip: process.platform !== 'linux' && 'reads /proc' },
  async (t) => {
    const dir = join(t.testdir({}), 'kvs')
    const store = KvsStore.open({ dir })
    t.teardown(() => store.close())
    store.namespace('ns').write('k', Buffer.from('v'))
    t.equal(writeLockHolder(dir), undefined, 'nobody holds it between writes')

    const holder = spawn(process.execPath, [fixture('kvs-child.mjs'), 'hold-lock', dir, 'ns'], { stdio: ['ignore', 'pipe', 'inherit'] })
    t.teardown(() => void holder.kill('SIGKILL'))
    let out = ''
    await new Promise<void>((resolve, reject) => {
      holder.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk
        if (out.includes('holding')) resolve()
      })
      holder.once('exit', () => reject(new Error(`the holder exited early: ${out}`)))
    })
    const held = writeLockHolder(dir)
    t.equal(held?.pid, holder.pid, 'the holding process')
    t.equal(held?.ownerDied, false)
    // The holder's command line, cut at 120 characters (a long node path may leave little else).
    const full = readFileSync(`/proc/${holder.pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ')
    t.equal(held?.command, full.length > 120 ? `${full.slice(0, 117)}...` : full)
    const { why, hint } = describeStall(dir, held)
    t.match(why, `held by pid ${holder.pid} (${(held?.command ?? '').slice(0, 40)}`)
    t.match(hint, new RegExp(`kill ${holder.pid}`))

    holder.kill('SIGKILL')
    await new Promise((resolve) => holder.once('close', resolve))
    t.equal(writeLockHolder(dir), undefined, 'a killed holder holds nothing (the kernel marked the lock)')
    store.namespace('ns').write('after', Buffer.from('ok'))
    t.equal(Buffer.from(store.namespace('ns').read('after')!).toString(), 'ok', 'and the next writer recovers it')
  },
)

t.test('the stall message says what to do when the holder is this process, or gone', async (t) => {
  t.match(describeStall('/kvs', { tid: 42, pid: 42, ownerDied: false, command: 'node sup' }, undefined, 42).why, /held by this very process, pid 42/)
  t.match(describeStall('/kvs', { tid: 42, pid: undefined, ownerDied: false, command: undefined }).hint, /next writer recovers/)
  t.match(describeStall('/kvs', undefined).why, /nobody holds its write lock/)
})
