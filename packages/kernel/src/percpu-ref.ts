/**
 * Per-CPU reference counts: a count that starts at one (the owner's initial reference), is
 * taken and dropped by users, and is "killed" when the owner wants to tear down. After the kill,
 * `tryGetLive` fails, and when the last reference is dropped the release callback runs, once.
 *
 * The model keeps one exact count (the kernel switches from per-CPU to atomic mode on kill; the
 * observable behaviour is the same). Misuse the kernel would BUG or corrupt on (a get or put
 * after the count reached zero, a put below zero, use after `exit`) throws `KernelBug`.
 *
 * @kernel lib/percpu-refcount.c, include/linux/percpu-refcount.h
 */
import { KernelBug } from './bug';
import { Completion } from './completion';
import type { KResult } from './errno';
import type { KernelLog } from './log';

type RefState = 'uninit' | 'live' | 'dying' | 'zero' | 'exited';

/**
 * A percpu_ref.
 * @kernel struct percpu_ref
 */
export class PercpuRef {
  private n = 0;
  private st: RefState = 'uninit';
  private release: ((ref: PercpuRef) => void) | null = null;
  /**
   * Completed right after the release callback ran (the count reached zero after the kill).
   * Lets several parties wait for the drain (the model's `wait_for_completion` on the owner's
   * completion).
   */
  readonly released = new Completion();

  /**
   * @param name names the ref in KernelBug and warning messages (`'0000:03:00.0 devmap_ref'`).
   * @param log where `percpu_ref_kill` misuse is warned about; `null`: not logged.
   */
  constructor(
    readonly name: string,
    private readonly log: KernelLog | null = null,
  ) {}

  /**
   * Initializes the ref with a count of one.
   * @param release called once, when the count reaches zero after `kill`.
   * @returns `0` (the model never fails the per-CPU allocation).
   * @throws KernelBug when the ref is live or dying (re-init of an active ref).
   * @kernel percpu_ref_init
   */
  init(release: (ref: PercpuRef) => void): KResult {
    if (this.st === 'live' || this.st === 'dying') throw new KernelBug(`percpu_ref_init(${this.name}): ref is in use`);
    this.n = 1;
    this.st = 'live';
    this.release = release;
    this.released.reinit();
    return 0;
  }

  /** The current count (exact). */
  get count(): number {
    return this.n;
  }

  /** Whether `init` ran and `exit` has not. */
  get initialized(): boolean {
    return this.st !== 'uninit' && this.st !== 'exited';
  }

  /**
   * Takes a reference. Allowed while dying (users that already hold one may take more).
   * @throws KernelBug when the ref is not initialized or already reached zero.
   * @kernel percpu_ref_get
   */
  get(): void {
    this.check('percpu_ref_get');
    this.n++;
  }

  /**
   * Takes a reference unless the count is zero.
   * @returns whether a reference was taken.
   * @kernel percpu_ref_tryget
   */
  tryGet(): boolean {
    if (this.st !== 'live' && this.st !== 'dying') return false;
    this.n++;
    return true;
  }

  /**
   * Takes a reference unless the ref was killed.
   * @returns `false` once `kill` ran (or before `init` / after zero).
   * @kernel percpu_ref_tryget_live
   */
  tryGetLive(): boolean {
    if (this.st !== 'live') return false;
    this.n++;
    return true;
  }

  /**
   * Drops a reference. When it was the last one and the ref is dying, the release callback runs,
   * then `released` completes.
   * @throws KernelBug when the ref is not initialized, already at zero, or would go below one
   *   while still live (the owner's initial reference is dropped by `kill` only).
   * @kernel percpu_ref_put
   */
  put(): void {
    this.check('percpu_ref_put');
    if (this.st === 'live' && this.n <= 1) throw new KernelBug(`percpu_ref_put(${this.name}): dropping the initial reference of a live ref`);
    this.n--;
    if (this.n === 0) this.fireRelease();
  }

  /**
   * Kills the ref: `tryGetLive` fails from now on, and the initial reference is dropped (so the
   * release runs now when nobody else holds one). Killing a dying ref is warned about and
   * ignored, as the kernel does.
   * @throws KernelBug when the ref is not initialized or already reached zero.
   * @kernel percpu_ref_kill
   */
  kill(): void {
    if (this.st === 'dying') {
      this.log?.prWarn(`percpu_ref_kill_and_confirm called more than once on ${this.name}!`);
      return;
    }
    this.check('percpu_ref_kill');
    this.st = 'dying';
    this.n--;
    if (this.n === 0) this.fireRelease();
  }

  /** @returns whether `kill` ran (dying or already zero). @kernel percpu_ref_is_dying */
  isDying(): boolean {
    return this.st === 'dying' || this.st === 'zero';
  }

  /** @returns whether the count reached zero. @kernel percpu_ref_is_zero */
  isZero(): boolean {
    return this.st === 'zero';
  }

  /**
   * Brings a ref that reached zero back to life with a count of one (`PERCPU_REF_ALLOW_REINIT`
   * users such as the block layer's queue freeze).
   * @throws KernelBug unless the count is zero.
   * @kernel percpu_ref_reinit
   */
  reinit(): void {
    if (this.st !== 'zero') throw new KernelBug(`percpu_ref_reinit(${this.name}): ref is not at zero`);
    this.n = 1;
    this.st = 'live';
    this.released.reinit();
  }

  /**
   * Frees the ref. Further use is a bug until `init` again.
   * @throws KernelBug when references are still held by others (count > 1, or 1 on a dying ref).
   * @kernel percpu_ref_exit
   */
  exit(): void {
    if ((this.st === 'live' && this.n > 1) || this.st === 'dying') {
      throw new KernelBug(`percpu_ref_exit(${this.name}): ${this.n} reference(s) still held`);
    }
    this.st = 'exited';
    this.n = 0;
    this.release = null;
  }

  private check(fn: string): void {
    if (this.st === 'uninit' || this.st === 'exited') throw new KernelBug(`${fn}(${this.name}): ref is not initialized`);
    if (this.st === 'zero') throw new KernelBug(`${fn}(${this.name}): ref already reached zero (use after release)`);
  }

  private fireRelease(): void {
    this.st = 'zero';
    const fn = this.release;
    fn?.(this);
    this.released.complete();
  }
}
