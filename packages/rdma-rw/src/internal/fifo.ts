/**
 * A first-in first-out queue with O(1) push and shift (an array plus a head index, compacted
 * when the consumed prefix dominates), for the hardware queues of QPs.
 */
export class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  /** Number of queued items. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Appends an item. @param item the item. */
  push(item: T): void {
    this.items.push(item);
  }

  /** Removes and returns the oldest item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** The newest item, or `undefined` when empty. */
  last(): T | undefined {
    return this.length > 0 ? this.items[this.items.length - 1] : undefined;
  }

  /** Drops every item. */
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}
