/**
 * Exclusive pid files: who owns a resource (a state directory, the supervisor daemon, the
 * KVS's open lock), such that a file left by a process that died, even by SIGKILL, is taken
 * over rather than blocking forever.
 *
 * The file is made with link() from a private temporary file that already holds the pid, so it
 * appears whole: a racer never reads it empty and takes it for stale (with open(O_EXCL) and then
 * write, there is a moment when it is). Taking over a dead owner's file happens under a second,
 * short-lived lock (a `.takeover` directory made with mkdir), and only after reading the file
 * again under it: two racers never both remove a file, and none ever removes a live owner's
 * (rename-aside or read-then-unlink without it let 2 of 6 racers win in a test).
 */
import { linkSync, mkdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { isSameProcess, processStamp } from './process-stamp.js'

export type PidFileResult = { acquired: true; release(): void } | { acquired: false; ownerPid: number }
/** A file of this process's that holds its {@link pidFileContent}, ready to be linked in place. */
export interface PreparedPidFile {
  path: string
  content: string
}

/** A takeover lock older than this was left by a process that died in the middle of one. */
const STALE_TAKEOVER_MS = 10_000
/** Attempts before giving up on a file whose owner is dead (racers keep taking it over). */
const MAX_ATTEMPTS = 200

const sleeper = new Int32Array(new SharedArrayBuffer(4))

/**
 * Take `file` for this process, or say who holds it. `tag` (one word) is written after the pid,
 * for readers of the file to tell kinds of holders apart ({@link readPidFileTag}). `isLive`
 * refines "the owner's process runs" (the KVS's write turnstile also checks the owner thread).
 */
export function tryAcquirePidFile(file: string, tag = '', isLive?: (entry: PidFileEntry) => boolean): PidFileResult {
  const mine = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  try {
    // Inside the try: on a full disk the file is created and the write fails (ENOSPC), and
    // the empty file must not stay behind (issue 12: open.lock.*.tmp piled up in the KVS).
    const content = pidFileContent(tag)
    writeFileSync(mine, content, { mode: 0o600 })
    return tryLinkPidFile(file, { path: mine, content }, isLive)
  } finally {
    rmSync(mine, { force: true })
  }
}

/** What this process writes in a pid file: "<pid> <tag or -> <stamp>". */
export function pidFileContent(tag = ''): string {
  // The stamp tells this process from a later one with its pid.
  return `${process.pid} ${tag === '' ? '-' : tag} ${processStamp(process.pid) ?? '-'}\n`
}

/**
 * {@link tryAcquirePidFile} with a file of this process's that already holds its
 * {@link pidFileContent} (`prepared`, in the same directory, kept by the caller): a link and,
 * to release, an unlink, for a lock taken very often (the KVS's write turnstile). Its
 * `content` is what the release compares, so that it removes only this holder's file (see
 * releaser).
 */
export function tryLinkPidFile(file: string, prepared: PreparedPidFile, isLive?: (entry: PidFileEntry) => boolean): PidFileResult {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    try {
      linkSync(prepared.path, file)
      return { acquired: true, release: releaser(file, prepared.content) }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    }
    const owner = liveOwner(file, isLive)
    if (owner !== undefined) return { acquired: false, ownerPid: owner }
    // Left behind by a process that died (or not a pid file at all): remove it, under the
    // takeover lock, if it is still that file; then try again.
    if (!removeIfStale(file, isLive)) Atomics.wait(sleeper, 0, 0, 1 + (attempt % 5))
  }
  return { acquired: false, ownerPid: liveOwner(file, isLive) ?? readPidFile(file) ?? 0 }
}

function liveOwner(file: string, isLive: ((entry: PidFileEntry) => boolean) | undefined): number | undefined {
  const entry = readPidFileEntry(file)
  return isLiveEntry(entry, isLive) ? entry.pid : undefined
}

function isLiveEntry(entry: PidFileEntry | undefined, isLive: ((entry: PidFileEntry) => boolean) | undefined): entry is PidFileEntry {
  return entry !== undefined && isSameProcess(entry.pid, entry.stamp) && (isLive === undefined || isLive(entry))
}

/** Remove `file` if its owner is dead, holding the takeover lock; false when another racer holds that lock. */
function removeIfStale(file: string, isLive: ((entry: PidFileEntry) => boolean) | undefined): boolean {
  const takeover = `${file}.takeover`
  try {
    // 0700: a store directory's privacy check (src/security) would otherwise find it open to
    // others and "fix" it, with a notice on stderr, whenever it looks in at that moment.
    mkdirSync(takeover, { mode: 0o700 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    try {
      if (Date.now() - statSync(takeover).mtimeMs > STALE_TAKEOVER_MS) rmdirSync(takeover)
    } catch {
      // Gone meanwhile: the next attempt sees.
    }
    return false
  }
  try {
    // Read again under the lock, and remove the file only if it is there and its owner is dead:
    // then nobody else removes it meanwhile (removal needs this lock) or links it (link fails
    // while the file exists). A file that is gone must be left alone: a racer may link a new one
    // at any moment, and a removal by name would remove theirs, leaving two holders (the KVS
    // open lock let a closer destroy LMDB's mutexes under an opener: 157 of 12,000 loop
    // acquisitions by 4 processes overlapped, until this check).
    const text = readIfPresent(file)
    if (text !== undefined && !isLiveEntry(parseEntry(text), isLive)) rmSync(file, { force: true })
    return true
  } finally {
    rmdirSync(takeover)
  }
}

/**
 * Remove `file` once, if it is still ours: a stale-lock takeover may have replaced it. "Ours" is
 * the exact `content` this holder wrote, not its pid alone, so a holder does not remove the file
 * of another thread of its own process (same pid, another tag: the KVS turnstile's holders are
 * threads).
 */
function releaser(file: string, content: string): () => void {
  let released = false
  return () => {
    if (released) return
    released = true
    if (readIfPresent(file) === content) rmSync(file, { force: true })
  }
}

/** What a pid file says: `<pid> <tag or -> <stamp or ->` (older files hold the pid alone). */
export interface PidFileEntry {
  pid: number
  /** '' when none. */
  tag: string
  /** The writer's {@link processStamp}, undefined when not recorded. */
  stamp: string | undefined
}

/** The entry of a pid file, read once; undefined when it is missing or holds no pid. */
export function readPidFileEntry(file: string): PidFileEntry | undefined {
  const text = readIfPresent(file)
  return text === undefined ? undefined : parseEntry(text)
}

/** The text of `file`, or undefined when it does not exist ('' when it cannot be read: no pid). */
function readIfPresent(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : ''
  }
}

function parseEntry(text: string): PidFileEntry | undefined {
  const fields = text.trim().split(/\s+/)
  const pid = Number.parseInt(fields[0] ?? '', 10)
  if (!Number.isInteger(pid) || pid <= 0) return undefined
  const tag = fields[1] ?? ''
  const stamp = fields[2]
  return { pid, tag: tag === '-' ? '' : tag, stamp: stamp === '-' ? undefined : stamp }
}

/**
 * The entry of `file` if its process still runs and is the one that wrote it (not a later
 * process that got its pid after a reboot or a wrap-around); else undefined.
 */
export function livePidFileEntry(file: string): PidFileEntry | undefined {
  const entry = readPidFileEntry(file)
  return isLiveEntry(entry, undefined) ? entry : undefined
}

/** The pid of {@link livePidFileEntry}. */
export function livePidFileOwner(file: string): number | undefined {
  return livePidFileEntry(file)?.pid
}

/** The tag written after the pid ('' when none), or undefined when the file is missing. */
export function readPidFileTag(file: string): string | undefined {
  return readPidFileEntry(file)?.tag
}

/** The pid in a pid file, or undefined when it is missing or unreadable. */
export function readPidFile(file: string): number | undefined {
  return readPidFileEntry(file)?.pid
}
