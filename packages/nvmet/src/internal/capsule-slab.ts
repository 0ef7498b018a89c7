/**
 * Command capsules cut from shared slabs: one buffer allocation (and one buffer for the GC to
 * track) per many capsules instead of one per command. A capsule is written whole (command,
 * then in-capsule data) before it is sent, and the receiver copies it into its posted buffers,
 * so a slab needs no zeroing and no capsule ever sees another's bytes.
 */

/**
 * Bytes per slab. 64 KiB stays below the C allocator's mmap threshold, so a new slab reuses
 * memory of slabs the GC freed (already mapped, often still cached) instead of faulting in
 * fresh pages: with 1 MiB slabs, copying 4 KiB of in-capsule data took ~6% of a 4 KiB write.
 */
const CAPSULE_SLAB_BYTES = 1 << 16;
/** Capsules larger than this get their own buffer (a slab holds at least four). */
const CAPSULE_SLAB_MAX = CAPSULE_SLAB_BYTES / 4;

let slab = new Uint8Array(0);
let used = 0;

/**
 * A buffer for one capsule; the caller must fill every byte of it.
 * @param len capsule bytes.
 * @returns a view of `len` bytes, owned by the caller (no other capsule overlaps it).
 */
export function newCapsule(len: number): Uint8Array {
  if (len > CAPSULE_SLAB_MAX) return new Uint8Array(len);
  if (used + len > slab.length) {
    slab = new Uint8Array(CAPSULE_SLAB_BYTES);
    used = 0;
  }
  const c = slab.subarray(used, used + len);
  used += len;
  return c;
}
