import { P2PDMA_POLICIES } from '@p2pdma/kernel';
import type { FabricCounters } from '@p2pdma/pci-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { NvmfIo } from '../src/initiator';
import { NvmfController, NvmfInitiator } from '../src/initiator';
import { RemoteHost } from '@p2pdma/rdma-rw';
import { nvmeRwCommand } from '../src/nvme-command';
import type { NvmetPlacement, NvmetTestbed } from '../src/testbed';
import { buildNvmetTestbed } from '../src/testbed';
import { CARD, MiB, lines, pattern, ramDisk, expectBytes } from './helpers';

const IO = 128 * 1024;
/** Generous bound on non-data bytes one command puts on DRAM or a link (capsule 64, response 16, SQE 64, CQE 16, PRP list ≤ 256). */
const CONTROL_PER_CMD = 512;

function tb(opts: Parameters<typeof buildNvmetTestbed>[0]): NvmetTestbed {
  const t = buildNvmetTestbed(opts);
  if ('error' in t) throw new Error(t.error);
  return t;
}

/** The link between the root port and the switch (named by the switch's upstream port). */
function rootLink(t: NvmetTestbed, c: FabricCounters): { up: number; down: number } {
  const rp = t.sys.findByBdf('0000:00:03.0')!;
  const info = t.sys.fabric.linkInfo().find((l) => l.upstream === rp.name)!;
  return c.links[info.name]!;
}

/** Writes `n` chunks of `IO` bytes and reads them back; returns the data written. */
function workload(t: NvmetTestbed, n: number, seed: number): { data: Uint8Array[]; cmds: number } {
  const c = t.ctrl!;
  const data: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const d = pattern(IO, seed + i);
    data.push(d);
    expect(c.write(1, i * (IO / 512), d).cqe!.status).toBe(0);
  }
  for (let i = 0; i < n; i++) {
    const r = c.read(1, i * (IO / 512), IO / 512);
    expect(r.cqe!.status).toBe(0);
    expectBytes(r.data, data[i]!);
  }
  return { data, cmds: 2 * n };
}

describe('headline: remote writes and reads through the NVMe-oF target on the seed-switch machine', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: with P2P the data moves RNIC ↔ p2pmem card ↔ NVMe inside the switch: zero DRAM and root-port bytes for the data`, () => {
      const t = tb({ policy, placement: 'p2pmem' });
      const using = policy === 'v2' ? `nvmet: using peer-to-peer memory on ${CARD}` : `nvmet: using p2pmem on ${CARD} for nsid 1`;
      expect(lines(t.kernel, /nvmet: using/)).toEqual([using]);
      t.sys.fabric.resetCounters();
      const { cmds } = workload(t, 8, 1);
      const c = t.sys.fabric.counters();
      const D = 8 * IO;
      expect(c.dram.read + c.dram.write).toBeLessThanOrEqual(cmds * CONTROL_PER_CMD);
      const root = rootLink(t, c);
      expect(root.up + root.down).toBeLessThanOrEqual(cmds * CONTROL_PER_CMD);
      // Every data byte went into the card once and out of it once, in each direction of I/O.
      expect(c.devices[CARD]).toEqual({ barRead: 2 * D, barWrite: 2 * D, internal: 0 });
      expect(c.errors).toBe(0);
      const ctrl = t.target.subsystems.get(t.subsysnqn)!.ctrls[0]!;
      expect(ctrl.stats.p2pBuffers).toBe(cmds);
      // Seed finding: nvmet_rdma_read_data_done destroys the RDMA READ context with flags 0
      // (patch 10 fixed only the release path), so each P2P write unmaps bus addresses through
      // the DMA API, which DMA-API debugging reports. 6.6 decides from the pages.
      expect(lines(t.kernel, 'DMA-API').length).toBe(policy === 'v2' ? 8 : 0);
      if (policy === 'v2') expect(lines(t.kernel, 'DMA-API')[0]).toMatch(/^DMA-API: mlx5_core 0000:03:00\.0: device driver tries to free DMA memory it has not allocated \[device address=0x[0-9a-f]{16}\] \[size=131072 bytes\]$/);
    });

    it(`${policy}: with P2P off the same I/O goes through DRAM and the root port, and reads back the same bytes`, () => {
      const t = tb({ policy, placement: 'system' });
      expect(lines(t.kernel, /nvmet: using/)).toEqual([]);
      t.sys.fabric.resetCounters();
      workload(t, 8, 1);
      const c = t.sys.fabric.counters();
      const D = 8 * IO;
      expect(c.dram.write).toBeGreaterThanOrEqual(2 * D);
      expect(c.dram.read).toBeGreaterThanOrEqual(2 * D);
      const root = rootLink(t, c);
      expect(root.up).toBeGreaterThanOrEqual(2 * D);
      expect(root.down).toBeGreaterThanOrEqual(2 * D);
      expect(c.devices[CARD]).toBeUndefined();
    });
  }

  it('with the NVMe drive\'s CMB as provider, data written to that drive crosses no link twice (the p2pmem card\'s link carries it twice)', () => {
    for (const policy of P2PDMA_POLICIES) {
      const per: Record<NvmetPlacement, number> = { system: 0, p2pmem: 0, cmb: 0 };
      for (const placement of ['cmb', 'p2pmem'] as const) {
        const t = tb({ policy, placement });
        t.sys.fabric.resetCounters();
        const D = 8 * IO;
        for (let i = 0; i < 8; i++) expect(t.ctrl!.write(1, i * 256, pattern(IO, i)).cqe!.status).toBe(0);
        const c = t.sys.fabric.counters();
        const worst = Math.max(...Object.values(c.links).map((l) => l.up + l.down));
        per[placement] = worst;
        if (placement === 'cmb') {
          expect(worst).toBeLessThanOrEqual(D + 8 * CONTROL_PER_CMD);
          expect(c.devices[t.drive.name]!.internal).toBeGreaterThanOrEqual(D);
          expect(lines(t.kernel, /nvmet: using/)[0]).toContain(t.drive.name);
        } else {
          expect(c.links[CARD]!.up + c.links[CARD]!.down).toBe(2 * D);
        }
        for (let i = 0; i < 8; i++) expectBytes(t.ctrl!.read(1, i * 256, 256).data, pattern(IO, i));
      }
      expect(per.p2pmem).toBeGreaterThanOrEqual(2 * 8 * IO);
    }
  });
});

describe('fallbacks end to end, each with what the user sees', () => {
  it('RNIC and drives on separate root ports (root-ports): v2 falls back silently; 6.6 refuses to enable p2pmem on the namespace', () => {
    const v2 = tb({ policy: 'v2', topology: 'root-ports', placement: 'p2pmem' });
    expect(lines(v2.kernel, /not behind a PCI bridge|nvmet: .*peer-to-peer/)).toEqual(['pci 0000:04:00.0: not behind a PCI bridge', 'nvmet: no supported peer-to-peer memory devices found']);
    workload(v2, 2, 5);
    expect(v2.target.subsystems.get(v2.subsysnqn)!.ctrls[0]!.stats.p2pBuffers).toBe(0);
    const up = buildNvmetTestbed({ policy: 'upstream', topology: 'root-ports', placement: 'p2pmem' });
    expect(up).toEqual({ error: 'configfs enable: failed (-22)' });
    // What the user sees for that refusal (6.6 nvmet_p2pmem_ns_enable): the drive and the card
    // meet only at a host bridge that is not in the P2PDMA whitelist.
    const again = buildNvmetTestbed({ policy: 'upstream', topology: 'root-ports', placement: 'system' });
    if ('error' in again) throw new Error(again.error);
    const cfs = again.kernel.configfs;
    const ns = `/sys/kernel/config/nvmet/subsystems/${again.subsysnqn}/namespaces/1`;
    cfs.write(`${ns}/enable`, '0\n');
    again.kernel.clock.advance(1e6);
    expect(cfs.write(`${ns}/p2pmem`, '1\n')).toBe(2);
    expect(cfs.write(`${ns}/enable`, '1\n')).toBe(-22);
    expect(lines(again.kernel, 'nvmet: no peer-to-peer')).toEqual([`nvmet: no peer-to-peer memory is available for ${again.blockPath}`]);
  });

  it('a software RDMA device (rxe, dma_virt_ops): v2 refuses it as a P2P client; 6.6 uses p2pmem with CPU copies', () => {
    const v2 = tb({ policy: 'v2', rdmaDevice: 'rxe', placement: 'p2pmem' });
    expect(lines(v2.kernel, /rxe0: cannot|nvmet: .*peer-to-peer/)).toEqual([
      'infiniband rxe0: cannot be used for peer-to-peer DMA because the driver makes use of dma_virt_ops',
      'nvmet: failed adding peer-to-peer DMA client rxe0: -19',
    ]);
    workload(v2, 2, 9);
    const up = tb({ policy: 'upstream', rdmaDevice: 'rxe', placement: 'p2pmem' });
    expect(lines(up.kernel, /nvmet: using/)).toEqual([`nvmet: using p2pmem on ${CARD} for nsid 1`]);
    up.sys.fabric.resetCounters();
    workload(up, 2, 9);
    // rxe moves bytes with CPU loads and stores: the card's BAR is reached by CPU MMIO, not by the RNIC.
    expect(up.sys.fabric.counters().links['0000:03:00.0']).toEqual({ up: 0, down: 0 });
  });

  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: p2pmem exhausted mid-workload: commands that cannot get p2pmem use System RAM, nothing is lost, nothing is logged`, () => {
      const t = tb({ policy, placement: 'p2pmem', p2pmemBytes: 2 * MiB });
      const c = t.ctrl!;
      const before = t.kernel.log.lines().length;
      const datas = [0, 1, 2, 3].map((i) => pattern(MiB, 40 + i));
      const ios: NvmfIo[] = datas.map((d, i) => c.submit(1, nvmeRwCommand({ write: true, nsid: 1, slba: i * 2048, nlb: 2048 }), { write: d }));
      expect(c.wait(ios).map((r) => r.cqe?.status)).toEqual([0, 0, 0, 0]);
      const ctrl = t.target.subsystems.get(t.subsysnqn)!.ctrls[0]!;
      expect(ctrl.stats.p2pAllocFallbacks).toBe(2);
      expect(ctrl.stats.p2pBuffers).toBe(2);
      for (const [i, d] of datas.entries()) expectBytes(c.read(1, i * 2048, 2048).data, d);
      const added = t.kernel.log.lines().slice(before).map((l) => l.text);
      expect(added.filter((l) => !l.startsWith('DMA-API'))).toEqual([]);
    });
  }
});

describe('IOMMU on (seed-switch): ACS redirect on the switch ports', () => {
  it('6.6 refuses p2pmem (host bridge not whitelisted) until pci=disable_acs_redir; the seed\'s patch 04 clears ACS at boot', () => {
    const refused = buildNvmetTestbed({ policy: 'upstream', placement: 'p2pmem', iommu: true });
    expect(refused).toEqual({ error: 'configfs enable: failed (-22)' });
    const sys = tb({ policy: 'upstream', placement: 'system', iommu: true });
    const ns = `/sys/kernel/config/nvmet/subsystems/${sys.subsysnqn}/namespaces/1`;
    sys.kernel.configfs.write(`${ns}/enable`, '0\n');
    sys.kernel.clock.advance(1e6);
    sys.kernel.log.clear();
    expect(sys.kernel.configfs.write(`${ns}/p2pmem`, '1\n')).toBe(2);
    expect(sys.kernel.configfs.write(`${ns}/enable`, '1\n')).toBe(-22);
    expect(sys.kernel.log.lines().map((l) => l.text)).toEqual(['pci 0000:00:00.0: Host bridge not in P2PDMA whitelist: 8086:6f00', `nvmet: no peer-to-peer memory is available for ${sys.blockPath}`]);
    for (const t of [
      tb({ policy: 'upstream', placement: 'p2pmem', iommu: true, cmdline: 'pci=disable_acs_redir=0000:02:08.0;0000:02:10.0;0000:02:11.0' }),
      tb({ policy: 'v2', placement: 'p2pmem', iommu: true }),
    ]) {
      t.sys.fabric.resetCounters();
      const { cmds } = workload(t, 2, 21);
      const c = t.sys.fabric.counters();
      expect(c.dram.read + c.dram.write).toBeLessThanOrEqual(cmds * CONTROL_PER_CMD);
      expect(c.devices[CARD]).toEqual({ barRead: 4 * IO, barWrite: 4 * IO, internal: 0 });
      expect(c.errors).toBe(0);
    }
  });
});

describe('life cycle end to end', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: a namespace added while connected raises an event; the initiator rescans and uses it`, () => {
      const t = tb({ policy, placement: 'p2pmem' });
      ramDisk({ kernel: t.kernel, sys: t.sys, dev: (b) => t.sys.findByBdf(b)! }, 'nullb0', { parent: t.drive });
      const cfs = t.kernel.configfs;
      const ns = `/sys/kernel/config/nvmet/subsystems/${t.subsysnqn}/namespaces/2`;
      expect(cfs.mkdir(ns)).toBe(0);
      expect(cfs.write(`${ns}/device_path`, '/dev/nullb0\n')).toBe(12);
      // v2: the controller uses p2pmem, so the new namespace joins its client list (same switch: accepted).
      expect(cfs.write(`${ns}/enable`, '1\n')).toBe(2);
      const c = t.ctrl!;
      const limit = t.kernel.clock.now() + 1e6;
      while (!c.namespaces.has(2) && t.kernel.clock.now() < limit && t.kernel.clock.runNext());
      expect(c.asyncEvents).toEqual([policy === 'v2' ? 0x2 : 0x040002]);
      expect(c.namespaces.get(2)).toEqual({ nsid: 2, nsze: 16384, lbaSize: 512 });
      const d = pattern(8192, 77);
      expect(c.write(2, 0, d).cqe!.status).toBe(0);
      expectBytes(c.read(2, 0, 16).data, d);
    });

    it(`${policy}: disconnect frees the controller, every queue buffer and mapping, and all p2pmem`, () => {
      const t = tb({ policy, placement: 'p2pmem', nrIoQueues: 2 });
      workload(t, 2, 3);
      const avail = () => t.kernel.sysfs.read(`/sys/bus/pci/devices/${CARD}/p2pmem/available`);
      const size = t.kernel.sysfs.read(`/sys/bus/pci/devices/${CARD}/p2pmem/size`);
      expect(t.transport.queues.size).toBe(3);
      t.ctrl!.disconnect();
      t.kernel.clock.advance(1e6);
      expect(t.transport.queues.size).toBe(0);
      expect(t.target.subsystems.get(t.subsysnqn)!.ctrls).toEqual([]);
      expect(t.target.cntlidIda.size).toBe(0);
      expect(avail()).toBe(size);
      expect(t.kernel.dmaDebug.liveMappings(t.rnic)).toEqual([]);
    });
  }

  it('two hosts get two controllers (cntlid 1 and 2), each with its own P2P setup, sharing the namespace', () => {
    const t = tb({ policy: 'v2', placement: 'p2pmem' });
    const host2 = new RemoteHost({ name: 'host2', memoryBytes: 8 * MiB });
    const ini2 = new NvmfInitiator({ host: host2, network: t.network, clock: t.kernel.clock });
    const c2 = ini2.connect({ traddr: t.traddr, subsysnqn: t.subsysnqn });
    if (!(c2 instanceof NvmfController)) throw new Error(c2.error);
    expect([t.ctrl!.cntlid, c2.cntlid]).toEqual([1, 2]);
    expect(lines(t.kernel, 'nvmet: using')).toEqual([`nvmet: using peer-to-peer memory on ${CARD}`, `nvmet: using peer-to-peer memory on ${CARD}`]);
    const d = pattern(IO, 99);
    expect(t.ctrl!.write(1, 0, d).cqe!.status).toBe(0);
    expectBytes(c2.read(1, 0, IO / 512).data, d);
    c2.disconnect();
    t.kernel.clock.advance(1e6);
    expect(t.target.subsystems.get(t.subsysnqn)!.ctrls.map((c) => c.cntlid)).toEqual([1]);
  });

  it('the controller survives idle time on keep-alive (kato 5 s, Keep Alive every 2.5 s)', () => {
    const t = tb({ policy: 'v2', placement: 'system' });
    t.kernel.clock.advance(60e9);
    expect(lines(t.kernel, 'expired')).toEqual([]);
    expect(t.ctrl!.read(1, 0, 8).cqe!.status).toBe(0);
  });
});

describe('data integrity through the whole stack (property)', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: random reads and writes (in-capsule and keyed, p2pmem) return exactly the bytes written`, () => {
      const t = tb({ policy, placement: 'p2pmem', nrIoQueues: 2, namespaceBytes: 64 * MiB });
      const c = t.ctrl!;
      const blocks = 4096;
      const shadow = new Uint8Array(blocks * 512);
      let seq = 0;
      const op = fc.record({ write: fc.boolean(), slba: fc.integer({ min: 0, max: blocks - 1 }), nlb: fc.integer({ min: 1, max: 128 }), qid: fc.integer({ min: 1, max: 2 }) });
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: 4 }), (ops) => {
          for (const o of ops) {
            const nlb = Math.min(o.nlb, blocks - o.slba);
            if (o.write) {
              const d = pattern(nlb * 512, ++seq);
              if (c.write(1, o.slba, d, o.qid).cqe?.status !== 0) return false;
              shadow.set(d, o.slba * 512);
            } else {
              const r = c.read(1, o.slba, nlb, o.qid);
              if (r.cqe?.status !== 0) return false;
              const want = shadow.subarray(o.slba * 512, (o.slba + nlb) * 512);
              if (r.data === null || r.data.length !== want.length || !r.data.every((b, i) => b === want[i])) return false;
            }
          }
          return true;
        }),
        { seed: 42, numRuns: 200 },
      );
    });
  }
});
