/**
 * MSI-X interrupt delivery between a PCI device model and the driver bound to it.
 *
 * The model's PCI core has no interrupt controller, so this module stands in for
 * `pci_alloc_irq_vectors` + `request_irq` on one side and a device's MSI-X message on the other.
 * A device signals a vector; delivery happens on the kernel's virtual clock (a zero-delay timer,
 * as a hard interrupt arrives after the device's write, never inside the CPU's MMIO store), once
 * per vector however many times it was signalled before delivery. Handlers registered on one
 * vector are all called (a shared line: 4.16 NVMe uses vector 0 for the admin queue and the
 * first I/O queue). The MSI write itself is not routed through the fabric (no link bytes).
 *
 * @kernel kernel/irq (request_irq, free_irq), drivers/pci/msi.c (the device side, simplified)
 */
import type { KResult, TimerId } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';

/** One registered handler. */
interface IrqAction {
  readonly name: string;
  readonly handler: () => void;
}

interface VectorState {
  actions: IrqAction[];
  pending: TimerId | null;
  delivered: number;
  spurious: number;
}

const tables = new WeakMap<PciDev, Map<number, VectorState>>();

function vectorState(pdev: PciDev, vector: number): VectorState {
  let t = tables.get(pdev);
  if (t === undefined) {
    t = new Map();
    tables.set(pdev, t);
  }
  let v = t.get(vector);
  if (v === undefined) {
    v = { actions: [], pending: null, delivered: 0, spurious: 0 };
    t.set(vector, v);
  }
  return v;
}

/**
 * Registers a handler on a vector (shared lines allowed; the same name twice is refused).
 * @param pdev the device.
 * @param vector MSI-X vector index (non-negative integer).
 * @param name the action's name (`nvme0q1`).
 * @param handler called on delivery.
 * @returns `0`, `-EINVAL` for a bad vector, `-EBUSY` for a name already on the vector.
 * @kernel pci_request_irq / request_irq (IRQF_SHARED)
 */
export function pciRequestIrq(pdev: PciDev, vector: number, name: string, handler: () => void): KResult {
  if (!Number.isSafeInteger(vector) || vector < 0) return err('EINVAL');
  const v = vectorState(pdev, vector);
  if (v.actions.some((a) => a.name === name)) return err('EBUSY');
  v.actions.push({ name, handler });
  return 0;
}

/**
 * Removes a handler.
 * @param pdev the device.
 * @param vector the vector.
 * @param name the action's name.
 * @kernel pci_free_irq
 */
export function pciFreeIrq(pdev: PciDev, vector: number, name: string): void {
  const v = tables.get(pdev)?.get(vector);
  if (v === undefined) return;
  v.actions = v.actions.filter((a) => a.name !== name);
}

/**
 * The device side: signals a vector. Delivery runs each handler from a zero-delay timer;
 * signals before delivery coalesce. A vector without handlers counts as spurious.
 * @param pdev the signalling device.
 * @param vector the vector.
 */
export function msixSignal(pdev: PciDev, vector: number): void {
  const v = vectorState(pdev, vector);
  if (v.pending !== null) return;
  v.pending = pdev.kernel.clock.schedule(0, () => {
    v.pending = null;
    if (v.actions.length === 0) {
      v.spurious++;
      return;
    }
    v.delivered++;
    for (const a of [...v.actions]) a.handler();
  });
}

/**
 * Delivery counters of a vector.
 * @param pdev the device.
 * @param vector the vector.
 * @returns interrupts delivered to handlers and those that found none.
 */
export function msixStats(pdev: PciDev, vector: number): { delivered: number; spurious: number; handlers: number } {
  const v = tables.get(pdev)?.get(vector);
  return { delivered: v?.delivered ?? 0, spurious: v?.spurious ?? 0, handlers: v?.actions.length ?? 0 };
}
