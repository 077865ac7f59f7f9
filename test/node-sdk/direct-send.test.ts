/**
 * How far a sender's link log keeps entries for a receiver that stopped reading
 * (node-sdk/direct-send.ts, logBound): the newest `queue_size` messages, and its own close;
 * before the process has sent a queue's worth, room for the closes of earlier runs and restarts
 * too, which must not push the newest messages out.
 */
import t from 'tap'
import { CLOSE_ENTRY_ALLOWANCE, logBound } from '../../node-sdk/direct-send.js'

t.test('once a queue of messages was appended, the newest queue_size entries past its own close are kept', async (t) => {
  // 100 entries so far (the next is 101); 40 of them this process's messages.
  t.equal(logBound({ queue: 10, appended: 40, closes: 0 }, 101n), 90n, 'entries 91..100 are the newest ten messages: kept')
  t.equal(logBound({ queue: 10, appended: 40, closes: 1 }, 102n), 90n, 'after its close (entry 101): 91..100 and the close')
  t.equal(logBound({ queue: 10, appended: 10, closes: 0 }, 101n), 90n, 'exactly a queue appended: the same')
})

t.test('before that, earlier closes may lie among the newest entries: the allowance is kept too', async (t) => {
  t.equal(logBound({ queue: 10, appended: 9, closes: 0 }, 101n), 100n - 10n - BigInt(CLOSE_ENTRY_ALLOWANCE))
  t.equal(logBound({ queue: 10, appended: 0, closes: 1 }, 101n), 100n - 10n - BigInt(CLOSE_ENTRY_ALLOWANCE), 'a run that sent nothing but its close')
})
