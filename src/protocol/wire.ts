/**
 * A minimal Cap'n Proto reader and writer for the node protocol's frames: the standard unpacked
 * serialization (segment table, then segments), structs, Text, Data, List(Text) and lists of
 * structs. Field positions come from {@link LAYOUT} (checked against the compiler by the tests).
 *
 * Why not capnp-es's runtime (0.0.16): its generated accessors allocate several objects per
 * field access, about 60 µs to encode and 60 µs to decode one `output` header here (this
 * module: ~3 µs each; a ZeroMQ round trip is ~140 µs), and it trusts what it reads: it sizes
 * an array from the segment table before checking it, reallocates whole lists on a list's
 * claimed length, does not check a list's element size before reading it, and formats (reads)
 * a mistyped list into its error messages, so a crafted frame could make it allocate gigabytes.
 * capnp-es's generated classes are still committed next to the schemas, and the tests
 * cross-check this codec against them and against the reference `capnp` tool.
 *
 * The reader is defensive the way the C++ reference's `ReaderOptions` are: every pointer is
 * resolved (far pointers and landing pads included) and bounds-checked against its segment,
 * every object read is charged against a word budget proportional to the frame size (so
 * aliasing pointers cannot amplify a small frame into a huge decode), frames are limited to
 * {@link MAX_FRAME_BYTES} and {@link MAX_SEGMENTS}, and a field of the wrong kind is an error,
 * never reinterpreted. Each read copies its value out; nothing returned aliases the frame.
 * Reads of fields beyond a (smaller, older) struct return the field's default, as the
 * evolution rules require.
 *
 * The code is split by job: `wire/format.ts` (limits and pointer encodings), `wire/reader.ts`
 * ({@link FrameReader}) and `wire/writer.ts` ({@link FrameWriter}); this module is what the
 * codecs import.
 *
 * @module
 */

export { MAX_FRAME_BYTES, MAX_SEGMENTS } from './wire/format.js'
export { FrameReader, type ListReader, type StructReader } from './wire/reader.js'
export { FrameWriter, type StructWriter } from './wire/writer.js'
