/**
 * `Fabric.observe`: a measurement hook over every device DMA (the model's own; the kernel has
 * tracepoints for this). It must see each transfer with the DRAM bytes it moved and change
 * nothing about the transfer.
 */
import { describe, expect, test } from 'vitest';
import { pciBusAddress } from '../src/bar';
import type { FabricTransfer } from '../src/index';
import { boot } from './helpers';

function machine() {
  const m = boot('seed-switch');
  return { sys: m.sys, nic: m.dev('0000:03:00.0'), barBus: pciBusAddress(m.dev('0000:06:00.0'), 4) };
}

describe('Fabric.observe', () => {
  test('reports each DMA after it ran, with the System RAM bytes it moved; unsubscribing stops it', () => {
    const { sys, nic, barBus } = machine();
    const seen: FabricTransfer[] = [];
    const stop = sys.fabric.observe((t) => seen.push(t));
    const data = new Uint8Array(4096).fill(7);
    expect(sys.fabric.dmaWrite(nic, 0x1000, data)).toEqual({ status: 'ok' });
    expect(sys.fabric.dmaWrite(nic, barBus, data)).toEqual({ status: 'ok' });
    const out = new Uint8Array(4096);
    expect(sys.fabric.dmaRead(nic, 0x1000, out)).toEqual({ status: 'ok' });
    expect(out).toEqual(data);
    expect(seen.map((t) => [t.dir, t.dmaAddr, t.len, t.dramBytes, t.result.status])).toEqual([
      ['write', 0x1000, 4096, 4096, 'ok'],
      ['write', barBus, 4096, 0, 'ok'],
      ['read', 0x1000, 4096, 4096, 'ok'],
    ]);
    expect(seen[0]!.initiator).toBe(nic);
    stop();
    stop();
    sys.fabric.dmaWrite(nic, 0x1000, data);
    expect(seen).toHaveLength(3);
  });

  test('counters are the same with and without an observer', () => {
    const run = (watch: boolean) => {
      const { sys, nic, barBus } = machine();
      if (watch) sys.fabric.observe(() => {});
      sys.fabric.dmaWrite(nic, barBus, new Uint8Array(8192));
      sys.fabric.dmaRead(nic, 0x2000, new Uint8Array(512));
      return sys.fabric.counters();
    };
    expect(run(true)).toEqual(run(false));
  });
});
