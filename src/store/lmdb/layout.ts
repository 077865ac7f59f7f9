/**
 * Whether this build's LMDB lays its files out as the code that reads them raw assumes: mdb.c's
 * structs (page header, meta page, MDB_db record, nodes) on a 64-bit little-endian build.
 * preflight.ts (meta pages), used-pages.ts (MDB_db records) and the probe's page walk
 * (page-check.ts) read those bytes themselves; elsewhere they step aside.
 *
 * @module
 */
import { endianness } from 'node:os'

/** True on 64-bit little-endian builds, whose struct layout the raw readers know. */
export const LMDB_LAYOUT_KNOWN = endianness() === 'LE' && ['x64', 'arm64', 'ppc64', 'riscv64', 'loong64'].includes(process.arch)
