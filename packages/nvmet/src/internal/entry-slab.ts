/**
 * Small queue-entry buffers (64-byte commands, 16-byte completions) as views of a shared
 * ArrayBuffer. A fresh `new Uint8Array(64)` lives on the JS heap, and the first `.buffer`
 * access (every DataView over it) moves it off-heap, which costs ten times the allocation; a
 * view of an existing ArrayBuffer does not. Slab regions are handed out once and never reused,
 * so every entry starts zeroed and no two entries overlap.
 */

/** Bytes per slab (1,024 commands). */
const ENTRY_SLAB_BYTES = 1 << 16;

let slab = new ArrayBuffer(0);
let used = 0;

/**
 * A zeroed buffer for one entry.
 * @param len bytes (at most a slab's size; entries are 64 bytes or less).
 * @returns a view owned by the caller.
 */
export function newEntryBytes(len: number): Uint8Array {
  if (used + len > slab.byteLength) {
    slab = new ArrayBuffer(Math.max(ENTRY_SLAB_BYTES, len));
    used = 0;
  }
  const b = new Uint8Array(slab, used, len);
  used += len;
  return b;
}
