/**
 * Page geometry, shared by the memory model and the sparse byte store.
 */

/** log2 of the page size. @kernel PAGE_SHIFT */
export const PAGE_SHIFT = 12;
/** Bytes per page (4 KiB). @kernel PAGE_SIZE */
export const PAGE_SIZE = 1 << PAGE_SHIFT;
