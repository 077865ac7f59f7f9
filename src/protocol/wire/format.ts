/**
 * The constants of Cap'n Proto's standard unpacked serialization that the frame reader and
 * writer share: frame limits, pointer kinds and list element sizes (see the encoding spec,
 * https://capnproto.org/encoding.html).
 *
 * @module
 */

/** Largest frame 0 we decode or encode: headers are small, payloads travel in frame 1. */
export const MAX_FRAME_BYTES = 1 << 20

/** Most segments a frame may have (the C++ reference's limit is 512 as well). */
export const MAX_SEGMENTS = 512

// Pointer kinds (low two bits of a pointer's first 32-bit half).
export const STRUCT = 0
export const LIST = 1
export const FAR = 2

// List element sizes (low three bits of a list pointer's second half).
export const BYTE = 2
export const POINTER = 6
export const COMPOSITE = 7
