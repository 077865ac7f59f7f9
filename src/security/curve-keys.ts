/**
 * The CURVE keys of the TCP control socket, in the user's private config directory
 * (`$XDG_CONFIG_HOME/dora-ts/curve`, default `~/.config/dora-ts/curve`, mode 0700, files 0600):
 *
 * - `server.key`: the supervisor's key pair. Its public half is what a remote CLI must know.
 * - `client.key`: this user's CLI key pair, used when the CLI connects over TCP.
 * - `allowed-clients`: the client public keys the supervisor lets in, one per line (`#` comments).
 *
 * `dora-ts keys` creates and shows them. Secret keys never leave these files.
 *
 * @module
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, lstatSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { curveKeyPair } from 'zeromq'
import { CurveKeysError, InsecurePathError } from './errors.js'
import { ensurePrivateDir, PRIVATE_FILE_MODE } from './private-path.js'
import { isZ85Key } from './z85.js'

/** A CURVE key pair as Z85 text (what `curveKeyPair()` returns). */
export interface CurveKeyPair {
  publicKey: string
  secretKey: string
}

export interface CurvePaths {
  dir: string
  serverKey: string
  clientKey: string
  allowedClients: string
}

/** Where the keys live (not created). */
export function curvePaths(): CurvePaths {
  const configHome = process.env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config')
  const dir = join(configHome, 'dora-ts', 'curve')
  return { dir, serverKey: join(dir, 'server.key'), clientKey: join(dir, 'client.key'), allowedClients: join(dir, 'allowed-clients') }
}

const KEYS_HINT = 'Run dora-ts keys to create the keys (or move the broken file aside and run it again).'

/** Write `text` to `path` as a fresh 0600 file, atomically (never a half-written key). */
function writePrivateFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`
  const fd = openSync(tmp, 'w', PRIVATE_FILE_MODE)
  try {
    writeSync(fd, text)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}

/** Read a private file; refuse one that others can read or that is a symlink. */
function readPrivateFile(path: string): string {
  const st = lstatSync(path)
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined
  if (st.isSymbolicLink() || !st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) {
    throw new InsecurePathError(`the key file ${path} must be a regular file owned by you and readable by you only (mode 0600)`, {
      hint: `Run chmod 600 ${path} if it is yours; otherwise remove it and run dora-ts keys.`,
    })
  }
  return readFileSync(path, 'utf8')
}

function readKeyPair(path: string): CurveKeyPair {
  const text = readPrivateFile(path)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  const pair = parsed as Partial<CurveKeyPair> | undefined
  if (typeof pair?.publicKey !== 'string' || typeof pair.secretKey !== 'string' || !isZ85Key(pair.publicKey) || !isZ85Key(pair.secretKey)) {
    throw new CurveKeysError(`the key file ${path} is not a CURVE key pair written by dora-ts keys`, { hint: KEYS_HINT })
  }
  return { publicKey: pair.publicKey, secretKey: pair.secretKey }
}

function loadOrCreatePair(path: string, create: boolean): CurveKeyPair | undefined {
  if (existsSync(path)) return readKeyPair(path)
  if (!create) return undefined
  const pair = curveKeyPair()
  writePrivateFile(path, `${JSON.stringify(pair, null, 2)}\n`)
  return pair
}

/** The keys of this user: the supervisor's, the CLI's, and the allow list. */
export interface CurveKeys {
  paths: CurvePaths
  server: CurveKeyPair
  client: CurveKeyPair
  allowed: string[]
}

/**
 * Load the keys, creating what is missing when `create` (the directory 0700, files 0600, and
 * an allow list holding this user's own client key). Without `create`, missing keys are a
 * {@link CurveKeysError} that says to run `dora-ts keys`.
 */
export function loadCurveKeys(options: { create?: boolean } = {}): CurveKeys {
  const paths = curvePaths()
  const create = options.create ?? false
  if (create) ensurePrivateDir(paths.dir, { what: 'key directory' })
  else if (!existsSync(paths.dir)) throw new CurveKeysError(`no CURVE keys in ${paths.dir}`, { hint: KEYS_HINT })
  else ensurePrivateDir(paths.dir, { what: 'key directory' })
  const server = loadOrCreatePair(paths.serverKey, create)
  const client = loadOrCreatePair(paths.clientKey, create)
  if (server === undefined || client === undefined) {
    throw new CurveKeysError(`no CURVE key pair in ${server === undefined ? paths.serverKey : paths.clientKey}`, { hint: KEYS_HINT })
  }
  if (!existsSync(paths.allowedClients) && create) {
    writePrivateFile(
      paths.allowedClients,
      `# Client public keys allowed to use this supervisor over TCP, one per line.\n# This user's own CLI:\n${client.publicKey}\n`,
    )
  }
  return { paths, server, client, allowed: readAllowedClients(paths.allowedClients) }
}

/** The keys on an allow list file (an absent file allows nobody). Malformed lines are an error, not skipped. */
export function readAllowedClients(path: string): string[] {
  if (!existsSync(path)) return []
  const keys: string[] = []
  readPrivateFile(path)
    .split('\n')
    .forEach((raw, index) => {
      const line = raw.trim()
      if (line === '' || line.startsWith('#')) return
      if (!isZ85Key(line)) {
        throw new CurveKeysError(`line ${index + 1} of ${path} is not a CURVE public key (40 characters of Z85)`, {
          hint: 'Fix or remove that line; dora-ts keys allow KEY adds a key in the right form.',
        })
      }
      keys.push(line)
    })
  return keys
}

/** Add a client public key to the allow list (idempotent); returns false when it was there. */
export function allowClientKey(publicKey: string): boolean {
  if (!isZ85Key(publicKey)) {
    throw new CurveKeysError('that is not a CURVE public key: expected 40 characters of Z85, as dora-ts keys prints on the client machine', {
      hint: 'On the machine of the CLI, run dora-ts keys and copy its "client public key".',
    })
  }
  const keys = loadCurveKeys({ create: true })
  if (keys.allowed.includes(publicKey)) return false
  const current = readPrivateFile(keys.paths.allowedClients)
  writePrivateFile(keys.paths.allowedClients, `${current}${current.endsWith('\n') || current === '' ? '' : '\n'}${publicKey}\n`)
  return true
}

/** Socket options of a CURVE client (a CLI connecting over TCP). */
export interface CurveClientOptions {
  curveServerKey: string
  curvePublicKey: string
  curveSecretKey: string
}

/** Env var with the supervisor's public key, for a CLI on another machine or account. */
export const ENV_SUPERVISOR_KEY = 'DORA_TS_SUPERVISOR_KEY'

/**
 * How the CLI authenticates to a supervisor over TCP: its own client key pair, and the server's
 * public key from {@link ENV_SUPERVISOR_KEY} or, for a supervisor of this same user, from
 * `server.key`.
 */
export function curveClientOptions(): CurveClientOptions {
  const fromEnv = process.env[ENV_SUPERVISOR_KEY]
  if (fromEnv !== undefined && !isZ85Key(fromEnv)) {
    throw new CurveKeysError(`${ENV_SUPERVISOR_KEY} is not a CURVE public key (40 characters of Z85)`, {
      hint: 'Set it to the "supervisor public key" that dora-ts keys prints on the supervisor machine.',
    })
  }
  const paths = curvePaths()
  const client = loadOrCreatePair(paths.clientKey, false)
  if (client === undefined) {
    throw new CurveKeysError(`connecting over TCP needs this CLI's key pair, and ${paths.clientKey} does not exist`, {
      hint: 'Run dora-ts keys here, then on the supervisor machine dora-ts keys allow <the client public key it printed>.',
    })
  }
  const serverKey = fromEnv ?? loadOrCreatePair(paths.serverKey, false)?.publicKey
  if (serverKey === undefined) {
    throw new CurveKeysError(`connecting over TCP needs the supervisor's public key: set ${ENV_SUPERVISOR_KEY}`, {
      hint: 'dora-ts keys on the supervisor machine prints it as "supervisor public key".',
    })
  }
  return { curveServerKey: serverKey, curvePublicKey: client.publicKey, curveSecretKey: client.secretKey }
}
