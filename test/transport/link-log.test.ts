/**
 * The log of a reliable direct link: what a sender appended is read back whole and in order,
 * across files, a writer SIGKILLed in the middle of its writes, and a reader that reads while
 * the writer writes; a receiver's cursor survives a torn write; the writer collects only what
 * every receiver consumed, or what a stopped receiver's queue would drop anyway. Real files, a
 * real child process killed for real.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { appendFileSync, closeSync, openSync, readdirSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { LinkCursor, LinkLogReader, LinkLogWriter, lowestCursor } from '../../src/transport/link-log.js'
import { isNoRoom } from '../../src/no-room.js'
import { sourceDir } from '../fixtures/paths.js'
import { smallTmpfs } from '../fixtures/small-tmpfs.js'

const WRITER = join(sourceDir(import.meta.url), 'fixtures', 'link-log-writer.mjs')

/** The entry the fixture writer appends as `seq`, rebuilt: [header, payload]. */
function expected(seq: bigint): [string, Buffer] {
  const size = Number((seq * 7919n) % 300000n)
  const payload = Buffer.allocUnsafe(size)
  for (let j = 0; j < size; j++) payload[j] = (Number(seq % 256n) + j) & 255
  return [String(seq), payload]
}

/** Read every whole entry after `after`, checking each against the fixture's; the last seq read. */
function readAll(t: Test, dir: string, after = 0n): bigint {
  const reader = new LinkLogReader(dir, after)
  let last = after
  let bad = 0
  for (let e = reader.next(); e !== undefined; e = reader.next()) {
    const [header, payload] = expected(e.seq)
    if (e.seq !== last + 1n || Buffer.from(e.header).toString() !== header || Buffer.compare(Buffer.from(e.payload), payload) !== 0) bad++
    last = e.seq
  }
  reader.close()
  t.equal(bad, 0, `every entry after ${after} up to ${last} is whole and in order`)
  return last
}

t.test('entries come back in order, across files, from any cursor', async (t) => {
  const dir = t.testdir({})
  const log = LinkLogWriter.open(dir, { fileBytes: 4096 })
  for (let i = 0; i < 50; i++) log.append(Buffer.from(`h${i + 1}`), Buffer.alloc(300 + i, i))
  log.close()
  t.ok(readdirSync(dir).filter((n) => n.endsWith('.log')).length > 3, 'the log spans several files')
  for (const after of [0n, 1n, 17n, 49n, 50n]) {
    const reader = new LinkLogReader(dir, after)
    const seqs: bigint[] = []
    for (let e = reader.next(); e !== undefined; e = reader.next()) {
      seqs.push(e.seq)
      if (Buffer.from(e.header).toString() !== `h${e.seq}` || e.payload.byteLength !== 300 + Number(e.seq) - 1)
        t.fail(`entry ${e.seq} is not what was appended`)
    }
    reader.close()
    t.same(
      seqs,
      Array.from({ length: 50 - Number(after) }, (_, i) => after + 1n + BigInt(i)),
      `after ${after}: the rest, in order`,
    )
  }
})

t.test('a reader that caught up gets what is appended next, also in a new file', async (t) => {
  const dir = t.testdir({})
  const log = LinkLogWriter.open(dir, { fileBytes: 1024 })
  const reader = new LinkLogReader(dir, 0n)
  t.equal(reader.next(), undefined, 'nothing before the first append')
  for (let i = 1n; i <= 20n; i++) {
    log.append(Buffer.from(String(i)), Buffer.alloc(200))
    const e = reader.next()
    t.equal(e?.seq, i, `entry ${i} read right after its append`)
    t.equal(reader.next(), undefined, 'then nothing more yet')
  }
  reader.close()
  log.close()
})

t.test('a reader moved past entries that came by socket reads the rest from the log, across new files', async (t) => {
  const dir = t.testdir({})
  const log = LinkLogWriter.open(dir, { fileBytes: 700 })
  const reader = new LinkLogReader(dir, 0n)
  const got: string[] = []
  for (let i = 1n; i <= 40n; i++) {
    const at = log.append(Buffer.from(`h${i}`), Buffer.alloc(100 + Number(i)))
    // Two of every three come "by socket"; the third is left for the log.
    if (i % 3n !== 0n) {
      // A gap (the entry before was not "sent"): read it from the log first.
      for (let e = reader.expected < i ? reader.next() : undefined; e !== undefined; e = reader.expected < i ? reader.next() : undefined)
        got.push(`log:${e.seq}`)
      if (reader.passed({ seq: at.seq, end: at.end, newFile: at.file === at.seq })) got.push(`socket:${i}`)
    }
  }
  for (let e = reader.next(); e !== undefined; e = reader.next()) got.push(`log:${e.seq}`)
  t.same(
    got,
    Array.from({ length: 40 }, (_, k) => (BigInt(k + 1) % 3n === 0n ? `log:${k + 1}` : `socket:${k + 1}`)),
    'every entry once, in order: those passed by socket, the others read',
  )
  t.notOk(reader.passed({ seq: 5n, end: 0, newFile: false }), 'an entry other than the next one expected does not move the reader')
  reader.close()
  log.close()
})

t.test("a read told where the entry ends (its socket message's `end`) gets the same entry; a wrong end is read past as if unsaid", async (t) => {
  const dir = t.testdir({})
  const log = LinkLogWriter.open(dir, { fileBytes: 1 << 20 })
  const reader = new LinkLogReader(dir, 0n)
  t.equal(reader.next(64), undefined, 'nothing before the first append, with an end or without')
  const ends: number[] = []
  for (let i = 1; i <= 6; i++) ends.push(log.append(Buffer.from(`h${i}`), Buffer.alloc(9000 + i, i)).end)
  const start = (i: number): number => (i === 1 ? 0 : ends[i - 2]!)
  // Told right; told too short, too long, short of a whole entry and behind where the reader is.
  const told = [ends[0], ends[1]! - 8, ends[2]! + 8, start(4) + 20, start(5) - 100, ends[5]]
  for (let i = 1; i <= 6; i++) {
    const e = reader.next(told[i - 1])
    t.ok(
      e !== undefined &&
        e.seq === BigInt(i) &&
        Buffer.from(e.header).toString() === `h${i}` &&
        e.payload.byteLength === 9000 + i &&
        e.payload.every((b) => b === i),
      `entry ${i} whole (told ${told[i - 1]! - start(i)} bytes of its ${ends[i - 1]! - start(i)})`,
    )
  }
  t.equal(reader.next(ends[5]! + 100), undefined, 'an end past the last entry reads nothing')
  log.append(Buffer.from('h7'), Buffer.alloc(10, 7))
  t.equal(reader.next()?.seq, 7n, 'and the reader goes on at the next append')
  reader.close()
  log.close()
})

t.test('a torn tail is "not yet" for a reader, and cut off by the next writer, which goes on with its number', async (t) => {
  const dir = t.testdir({})
  const log = LinkLogWriter.open(dir)
  log.append(Buffer.from('1'), Buffer.alloc(1000, 1))
  log.append(Buffer.from('2'), Buffer.alloc(1000, 2))
  log.close()
  const file = join(
    dir,
    readdirSync(dir).find((n) => n.endsWith('.log'))!,
  )
  const whole = statSync(file).size
  truncateSync(file, whole - 5) // entry 2 torn: its trailer incomplete
  const reader = new LinkLogReader(dir, 0n)
  t.equal(reader.next()?.seq, 1n, 'entry 1 is whole')
  t.equal(reader.next(), undefined, 'the torn entry 2 is not read')
  // A reader that starts past it (its cursor ahead of the file: the log was removed under it)
  // walks the heads to the end, and starts at the torn entry, whose head alone looks whole.
  const ahead = new LinkLogReader(dir, 5n)
  t.equal(ahead.next(), undefined, 'nothing whole to read past entry 1')
  t.equal(ahead.expected, 2n, 'it waits at the torn entry, not past it')
  const again = LinkLogWriter.open(dir)
  t.equal(again.nextSeq, 2n, 'the writer numbers on from the last whole entry')
  t.equal(statSync(file).size, whole - (24 + 1 + 1000 + 8), 'the torn tail was cut off: entry 1 is all that is left')
  again.append(Buffer.from('2b'), Buffer.alloc(10, 9))
  const e = reader.next()
  t.equal(Buffer.from(e?.header ?? []).toString(), '2b', 'the reader that waited at 2 reads the new entry 2')
  t.equal(Buffer.from(ahead.next()?.header ?? []).toString(), '2b', 'so does the one that started past it')
  ahead.close()
  reader.close()
  again.close()
  // Garbage after the last whole entry (not an entry at all) is cut the same way.
  appendFileSync(file, Buffer.from('not an entry'))
  const third = LinkLogWriter.open(dir)
  t.equal(third.nextSeq, 3n, 'garbage at the tail is not an entry')
  third.close()
})

t.test('writers SIGKILLed mid-append: every entry an append returned for is read back whole, numbering goes on', async (t) => {
  const dir = t.testdir({})
  const seed = Number(process.env['TEST_SEED'] ?? Date.now() % 100000)
  let rand = seed
  const next = (): number => (rand = (rand * 1103515245 + 12345) % 2147483648) / 2147483648
  let confirmed = 0n
  for (let kill = 0; kill < 4; kill++) {
    const child = spawn(process.execPath, [WRITER, dir, String(256 * 1024)], { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const target = 5 + Math.floor(next() * 30)
    let seen = 0
    await new Promise<void>((resolve) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const seq = BigInt(line.split(' ')[1]!)
        if (seq > confirmed) confirmed = seq
        if (++seen === target) {
          child.kill('SIGKILL')
          resolve()
        }
      })
      void exited.then(() => resolve())
    })
    await exited
    const last = readAll(t, dir)
    t.ok(last >= confirmed, `kill ${kill + 1} (seed ${seed}): the log holds every confirmed entry (${confirmed}), read up to ${last}`)
  }
})

t.test('a reader in this process reads while a writer in another appends: never a torn or skipped entry', async (t) => {
  const dir = t.testdir({})
  const child = spawn(process.execPath, [WRITER, dir, String(512 * 1024)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.teardown(() => void child.kill('SIGKILL'))
  const reader = new LinkLogReader(dir, 0n)
  let last = 0n
  let bad = 0
  // Bounded in count: read until 300 entries came, yielding to the event loop between tries.
  while (last < 300n) {
    const e = reader.next()
    if (e === undefined) {
      await new Promise((resolve) => setImmediate(resolve))
      continue
    }
    const [header, payload] = expected(e.seq)
    if (e.seq !== last + 1n || Buffer.from(e.header).toString() !== header || Buffer.compare(Buffer.from(e.payload), payload) !== 0) bad++
    last = e.seq
  }
  child.kill('SIGKILL')
  await exited
  reader.close()
  t.equal(bad, 0, 'every entry read while being written was whole and next in order')
})

t.test('collect deletes only files every receiver consumed, never the newest; the numbering survives it', async (t) => {
  const dir = t.testdir({})
  const log = LinkLogWriter.open(dir, { fileBytes: 1000 })
  for (let i = 0; i < 30; i++) log.append(Buffer.from('h'), Buffer.alloc(400))
  const files = (): string[] => readdirSync(dir).filter((n) => n.endsWith('.log'))
  const before = files().length
  const a = new LinkCursor(dir, 'a')
  const b = new LinkCursor(dir, 'b')
  t.equal(lowestCursor(dir, ['a', 'b', 'c']), 0n, 'a receiver without a cursor holds everything')
  t.equal(log.collect(lowestCursor(dir, ['a', 'b', 'c'])), 0, 'nothing collected')
  a.set({ consumed: 30n, inHand: 0n })
  b.set({ consumed: 10n, inHand: 11n })
  t.equal(lowestCursor(dir, ['a', 'b']), 10n, 'the lowest cursor')
  log.collect(lowestCursor(dir, ['a', 'b']))
  const reader = new LinkLogReader(dir, 10n)
  t.equal(reader.next()?.seq, 11n, 'what b has not consumed is still there')
  reader.close()
  b.set({ consumed: 30n, inHand: 0n })
  log.collect(lowestCursor(dir, ['a', 'b']))
  t.equal(files().length, 1, `all consumed: only the newest file of ${before} is left`)
  t.notOk(log.hasOlderFiles, 'nothing left to collect until the next rotation')
  log.append(Buffer.from('h'), Buffer.alloc(400))
  log.append(Buffer.from('h'), Buffer.alloc(400))
  t.ok(log.hasOlderFiles, 'a rotation leaves a file to collect')
  log.close()
  a.close()
  b.close()
  const again = LinkLogWriter.open(dir, { fileBytes: 1000 })
  t.equal(again.nextSeq, 33n, 'a new writer numbers on after 32')
  t.ok(again.hasOlderFiles, 'a new writer looks for files an earlier one left')
  again.close()
})

t.test('consumed files are reused for new ones: readers, also one still holding a reused file, read every entry once in order', async (t) => {
  const dir = t.testdir({})
  const log = LinkLogWriter.open(dir, { fileBytes: 2000 })
  const cursor = new LinkCursor(dir, 'r')
  const slow = new LinkLogReader(dir, 0n) // reads each file to its end, then lags a little
  let fast = new LinkLogReader(dir, 0n)
  const got: bigint[] = []
  for (let i = 1n; i <= 400n; i++) {
    log.append(Buffer.from(`h${i}`), Buffer.alloc(100 + Number(i % 50n), Number(i % 256n)))
    for (let e = fast.next(); e !== undefined; e = fast.next()) {
      if (Buffer.from(e.header).toString() !== `h${e.seq}` || e.payload.byteLength !== 100 + Number(e.seq % 50n)) t.fail(`entry ${e.seq} came back wrong`)
      got.push(e.seq)
      cursor.set({ consumed: e.seq, inHand: 0n })
    }
    if (i % 7n === 0n) log.collect(lowestCursor(dir, ['r']))
    if (i % 97n === 0n) {
      // A new reader from the cursor (a restarted receiver) picks up where the cursor is.
      fast.close()
      fast = new LinkLogReader(dir, cursor.value.consumed)
    }
  }
  t.same(
    got,
    Array.from({ length: 400 }, (_, k) => BigInt(k + 1)),
    'every entry once, in order',
  )
  t.ok(
    readdirSync(dir).some((n) => n.startsWith('spare.')),
    'consumed files were kept as spares for reuse',
  )
  // The slow reader never moved: its entries were collected under it; it starts at what is left.
  const first = slow.next()
  t.ok(first === undefined || first.seq > 1n, 'a reader behind the collected files is not handed a stale entry')
  slow.close()
  fast.close()
  log.compact(cursor.value.consumed)
  t.same(
    readdirSync(dir).filter((n) => n.startsWith('spare.')),
    [],
    'compact removes the spares',
  )
  cursor.close()
  log.close()
})

t.test('on a full file system, makeRoom frees what the receivers consumed and the append goes; no spare is kept after', async (t) => {
  const fs = smallTmpfs(t, '1m')
  if (typeof fs !== 'string') return void t.skip(fs.skip, () => {})
  const dir = join(fs, 'log')
  // Files close at 16 MiB, far past the 1 MiB of the tmpfs: the newest file is the whole log.
  const log = LinkLogWriter.open(dir)
  const cursor = new LinkCursor(dir, 'r')
  const reader = new LinkLogReader(dir, 0n)
  const payload = Buffer.alloc(100_000, 7)
  const readAndConsume = (): void => {
    for (let e = reader.next(); e !== undefined; e = reader.next()) cursor.set({ consumed: e.seq, inHand: 0n })
  }
  let full: unknown
  for (let i = 0; i < 30 && full === undefined; i++) {
    try {
      log.append(Buffer.from('h'), payload)
    } catch (err) {
      full = err
    }
    readAndConsume()
    log.collect(lowestCursor(dir, ['r']))
  }
  t.ok(isNoRoom(full), `the 1 MiB tmpfs filled: ${String(full)}`)
  const filled = cursor.value.consumed
  t.ok(filled > 0n, `the receiver consumed all ${filled} entries`)
  t.throws(
    () => log.append(Buffer.from('h'), payload),
    { code: 'ENOSPC' },
    'every entry is consumed, yet collect alone frees nothing: the next append fails too',
  )
  // What the SDK does on a full file system (node-sdk/direct-send.ts): make room, try once more.
  // (A receiver's reader holds the file it reads until it looks again and finds the newer one:
  // the pages of a deleted file go with its last descriptor. The real receiver looks on its
  // next ring or poll; a send refused meanwhile is the sender's to try again.)
  let madeRoom = 0
  for (let i = 0; i < 3 * Number(filled); i++) {
    try {
      log.append(Buffer.from('h'), payload)
    } catch (err) {
      if (!isNoRoom(err)) throw err
      log.makeRoom(lowestCursor(dir, ['r']))
      madeRoom++
      t.same(
        readdirSync(dir).filter((n) => !n.endsWith('.log') && !n.startsWith('cursor.')),
        [],
        'what it freed was deleted, not kept as a spare',
      )
      readAndConsume()
      log.append(Buffer.from('h'), payload)
    }
    readAndConsume()
  }
  t.equal(cursor.value.consumed, 4n * filled, `${3n * filled} more entries went through the full tmpfs, read in order`)
  t.ok(madeRoom >= 2, `room was made ${madeRoom} times`)
  reader.close()
  cursor.close()
  log.close()
})

t.test('a receiver that stopped reading holds the log to its queue, not all of it; readers pass the gap and count it', async (t) => {
  const dir = t.testdir({})
  const keep = 10n
  // Two entries a file: files go while the receiver's cursor stays at 5.
  const log = LinkLogWriter.open(dir, { fileBytes: 1000 })
  const cursor = new LinkCursor(dir, 'r')
  for (let i = 1n; i <= 6n; i++) log.append(Buffer.from(`h${i}`), Buffer.alloc(400))
  cursor.set({ consumed: 5n, inHand: 6n })
  // A receiver alive but stuck: its reader holds the file of entry 6, read, and no more.
  const stuck = new LinkLogReader(dir, 5n)
  t.equal(stuck.next()?.seq, 6n, 'the stuck reader read entry 6')
  const logBytes = (): number =>
    readdirSync(dir)
      .filter((n) => n.endsWith('.log'))
      .reduce((sum, n) => sum + statSync(join(dir, n)).size, 0)
  let most = 0
  for (let i = 7n; i <= 200n; i++) {
    log.append(Buffer.from(`h${i}`), Buffer.alloc(400))
    log.collect(lowestCursor(dir, ['r']), log.nextSeq - 1n - keep)
    most = Math.max(most, logBytes())
  }
  t.ok(most <= 8 * 1000, `the log stayed within its queue and two files (${most} bytes at most; 200 entries are ${200 * 440})`)
  t.same(
    readdirSync(dir).filter((n) => n.startsWith('spare.')),
    [],
    'an unconsumed file it dropped is never kept as a spare (a reader may be reading it)',
  )
  // The newest `keep` entries are all there, from any reader.
  const fresh = new LinkLogReader(dir, 190n)
  const tail: bigint[] = []
  for (let e = fresh.next(); e !== undefined; e = fresh.next()) tail.push(e.seq)
  t.same(
    tail,
    Array.from({ length: 10 }, (_, k) => 191n + BigInt(k)),
    'the newest queue of entries is whole',
  )
  t.equal(fresh.takeSkipped(), 0n, 'nothing passed there')
  fresh.close()
  // The stuck reader comes back: in order from the oldest entry left, the gap counted.
  const seen: bigint[] = []
  for (let e = stuck.next(); e !== undefined; e = stuck.next()) seen.push(e.seq)
  const skipped = stuck.takeSkipped()
  t.ok(seen.length >= Number(keep) && seen.at(-1) === 200n, `it reads on to the newest (${seen.length} entries from ${seen[0]})`)
  t.same(
    seen,
    Array.from({ length: seen.length }, (_, k) => seen[0]! + BigInt(k)),
    'in order, none twice',
  )
  t.equal(skipped, seen[0]! - 7n, 'every entry it passed is counted, once')
  t.equal(stuck.takeSkipped(), 0n, 'and counted once')
  stuck.close()
  // A restarted receiver from its cursor: the same gap, counted.
  const restarted = new LinkLogReader(dir, 5n)
  const first = restarted.next()?.seq ?? 0n
  t.equal(restarted.takeSkipped(), first - 6n, `a reader from cursor 5 starts at ${first}, counting the ${first - 6n} gone`)
  restarted.close()
  const newcomer = new LinkLogReader(dir, 0n)
  const oldest = newcomer.next()?.seq ?? 0n
  t.ok(oldest > 1n, 'a reader from nothing starts at the oldest entry left')
  t.equal(newcomer.takeSkipped(), oldest - 1n, 'and says how many entries came before it')
  newcomer.close()
  cursor.close()
  log.close()
})

t.test('a cursor reads back its last value, and survives a torn write of its slot', async (t) => {
  const dir = t.testdir({})
  const c = new LinkCursor(dir, 'sink.in')
  t.same(c.value, { consumed: 0n, inHand: 0n, read: 0n }, 'a new cursor is at 0, nothing in hand, nothing read')
  c.set({ consumed: 4n, inHand: 5n, read: 6n })
  c.set({ consumed: 9n, inHand: 10n })
  c.set({ consumed: 7n, inHand: 0n, read: 9n })
  t.same(c.value, { consumed: 9n, inHand: 0n, read: 9n }, 'consumed never moves back; read left out stays')
  c.close()
  t.same(new LinkCursor(dir, 'sink.in').value, { consumed: 9n, inHand: 0n, read: 9n }, 'read back by a new process')
  // Tear the slot written last (slot 0: 4/5/6, slot 1: 9/10/6, slot 0: 9/0/9): the other stands.
  const fd = openSync(join(dir, 'cursor.sink.in'), 'r+')
  writeSync(fd, Buffer.alloc(4, 0xee), 0, 4, 0)
  closeSync(fd)
  const torn = new LinkCursor(dir, 'sink.in')
  t.same(torn.value, { consumed: 9n, inHand: 10n, read: 6n }, 'a torn slot falls back to the other one')
  torn.set({ consumed: 11n, inHand: 12n, read: 13n })
  torn.close()
  t.same(new LinkCursor(dir, 'sink.in').value, { consumed: 11n, inHand: 12n, read: 13n }, 'and the next write goes over the torn slot')
})

t.test('a cursor made before its file system filled can still be written: its bytes are taken when it is made', async (t) => {
  const fs = smallTmpfs(t, '1m')
  if (typeof fs !== 'string') return void t.skip(fs.skip, () => {})
  const dir = join(fs, 'log')
  // As the supervisor does before any sender starts (runtime/supervisor/link-logs.ts).
  new LinkCursor(dir, 'viewer.frames').close()
  t.equal(statSync(join(dir, 'cursor.viewer.frames')).size, 80, 'a new cursor file holds its two 40-byte slots')
  t.same(new LinkCursor(dir, 'viewer.frames').value, { consumed: 0n, inHand: 0n, read: 0n }, 'which read as no cursor written yet')
  // A sender fills the tmpfs to its last byte.
  const ballast = openSync(join(fs, 'ballast'), 'w')
  let wrote = 0
  const block = Buffer.alloc(4096, 1)
  try {
    for (;;) wrote += writeSync(ballast, block)
  } catch (err) {
    t.equal((err as NodeJS.ErrnoException).code, 'ENOSPC', `the tmpfs is full after ${wrote} bytes`)
  } finally {
    closeSync(ballast)
  }
  const cursor = new LinkCursor(dir, 'viewer.frames')
  t.doesNotThrow(() => {
    cursor.set({ consumed: 1n, inHand: 2n, read: 2n })
    cursor.set({ consumed: 2n, inHand: 0n, read: 2n })
  }, 'the receiver writes both slots on a full tmpfs (before, its first write failed with ENOSPC)')
  cursor.close()
  t.same(new LinkCursor(dir, 'viewer.frames').value, { consumed: 2n, inHand: 0n, read: 2n }, 'and what it wrote reads back')
})

t.test('a cursor file of the slots written before `read` is read as it was, and goes on in the new ones', async (t) => {
  const dir = t.testdir({})
  // Two 32-byte slots: generation, consumed, inHand, check (generation ^ consumed ^ inHand ^ 0x5a..5a).
  const old = Buffer.alloc(64)
  const slot = (at: number, gen: bigint, consumed: bigint, inHand: bigint) => {
    old.writeBigUInt64LE(gen, at)
    old.writeBigUInt64LE(consumed, at + 8)
    old.writeBigUInt64LE(inHand, at + 16)
    old.writeBigUInt64LE(gen ^ consumed ^ inHand ^ 0x5a5a5a5a5a5a5a5an, at + 24)
  }
  slot(0, 7n, 40n, 41n)
  slot(32, 8n, 50n, 51n)
  writeFileSync(join(dir, 'cursor.sink.in'), old)
  const c = new LinkCursor(dir, 'sink.in')
  t.same(c.value, { consumed: 50n, inHand: 51n, read: 0n }, 'the newer old slot, nothing known of what was read')
  c.set({ consumed: 52n, inHand: 60n, read: 61n })
  c.close()
  t.same(new LinkCursor(dir, 'sink.in').value, { consumed: 52n, inHand: 60n, read: 61n }, 'the new slot outranks what is left of the old ones')
})
