/**
 * Guards for entry points that exist under one policy only (the v2 client lists and ACS hook,
 * the 6.6 distance functions). Calling one on a kernel running the other policy is a caller bug.
 */
import type { Kernel, P2pdmaPolicy } from '@p2pdma/kernel';
import { KernelBug } from '@p2pdma/kernel';

/**
 * @param kernel the kernel whose policy is checked.
 * @param policy the policy the function belongs to.
 * @param fn the kernel symbol, for the message.
 * @throws KernelBug when the kernel runs another policy.
 */
export function requirePolicy(kernel: Kernel, policy: P2pdmaPolicy, fn: string): void {
  if (kernel.policy !== policy) {
    throw new KernelBug(`${fn}() exists only under the '${policy}' P2PDMA policy; this kernel runs '${kernel.policy}'`);
  }
}
