import { Device, deviceAdd, err } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import { nvmeIdentifyCommand, NVME_ID_CNS_CTRL } from '../src/nvme-identify';
import { nvmeRwCommand } from '../src/nvme-command';
import { CARD, CFS, CMB_NVME, MiB, NQN, NVME, RNIC, boot, connect, connectIo, lines, pattern, publish, ramDisk, setupSubsys, target, w, expectBytes } from './helpers';

function allowP2pmem(m: ReturnType<typeof boot>, port = 1): void {
  w(m, `ports/${port}/allow_p2pmem`, '1\n');
}

describe('seed patch 10 (v2): nvmet_setup_p2pmem at controller creation', () => {
  it('allow_p2pmem on, RNIC and namespace behind the switch: "using peer-to-peer memory", I/O buffers from the card, admin buffers from RAM', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    const { t, tr } = target(m);
    const card = publish(m, CARD, 4);
    const disk = ramDisk(m, 'nullb0');
    setupSubsys(m, { 1: '/dev/nullb0' });
    allowP2pmem(m);
    const rnic = m.dev(RNIC);
    const { admin, cntlid } = connect(t, tr, { p2pClient: rnic });
    expect(lines(m.kernel, 'nvmet: using peer-to-peer memory')).toEqual(['nvmet: using peer-to-peer memory on 0000:06:00.0']);
    const ctrl = t.subsystems.get(NQN)!.ctrls[0]!;
    expect(ctrl.p2pDev).toBe(card);
    expect(ctrl.p2pClients.clients()).toEqual([rnic, m.dev(NVME)]);
    expect(admin.run(nvmeIdentifyCommand(NVME_ID_CNS_CTRL, 0), { readLen: 4096 }).p2pDev).toBeNull();
    const { q } = connectIo(t, tr, cntlid, 1, { p2pClient: rnic });
    const data = pattern(64 * 1024, 3);
    const wr = q.run(nvmeRwCommand({ write: true, nsid: 1, slba: 0, nlb: 128 }), { write: data });
    expect(wr.cqe.status).toBe(0);
    expect(wr.p2pDev).toBe(card);
    const rd = q.run(nvmeRwCommand({ write: false, nsid: 1, slba: 0, nlb: 128 }), { readLen: data.length });
    expect(rd.p2pDev).toBe(card);
    expectBytes(rd.data, data);
    // io-cmd.c hunk: the bios carried REQ_PCI_P2PDMA (the RAM disk saw P2P requests).
    expect(disk.stats.p2pRequests).toBe(2);
    expect(disk.trace.map((r) => r.p2p)).toEqual([true, true]);
    expect(ctrl.stats.p2pAllocFallbacks).toBe(0);
  });

  it('allow_p2pmem off: no client list, no log line, buffers from System RAM', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    const { t, tr } = target(m);
    publish(m, CARD, 4);
    const disk = ramDisk(m, 'nullb0');
    setupSubsys(m, { 1: '/dev/nullb0' });
    const { cntlid } = connect(t, tr, { p2pClient: m.dev(RNIC) });
    expect(lines(m.kernel, /^nvmet: .*peer-to-peer/)).toEqual([]);
    const { q } = connectIo(t, tr, cntlid, 1, { p2pClient: m.dev(RNIC) });
    expect(q.run(nvmeRwCommand({ write: true, nsid: 1, slba: 0, nlb: 8 }), { write: pattern(4096, 1) }).p2pDev).toBeNull();
    expect(disk.stats.p2pRequests).toBe(0);
  });

  const fallbacks: { name: string; setup: (m: ReturnType<typeof boot>) => { client: Device; disk: { p2pdma: boolean; parent?: Device } }; expected: string[] }[] = [
    {
      name: 'RNIC and p2pmem on different root ports (root-ports): nothing behind a switch',
      setup: (m) => {
        publish(m, '0000:04:00.0', 4);
        return { client: m.dev('0000:01:00.0'), disk: { p2pdma: true, parent: m.dev('0000:03:00.0') } };
      },
      expected: ['pci 0000:04:00.0: not behind a PCI bridge', 'nvmet: no supported peer-to-peer memory devices found'],
    },
    {
      name: 'a namespace whose queue lacks QUEUE_FLAG_PCI_P2PDMA',
      setup: (m) => {
        publish(m, CARD, 4);
        return { client: m.dev(RNIC), disk: { p2pdma: false } };
      },
      expected: ['nvmet: peer-to-peer DMA is not supported by /dev/nullb0'],
    },
    {
      name: 'an RDMA device with virtual DMA ops (rxe)',
      setup: (m) => {
        publish(m, CARD, 4);
        const rxe = new Device(m.kernel, 'rxe0', { parent: m.dev(RNIC), className: 'infiniband', dmaOps: 'virt' });
        expect(deviceAdd(rxe)).toBe(0);
        return { client: rxe, disk: { p2pdma: true } };
      },
      expected: ['infiniband rxe0: cannot be used for peer-to-peer DMA because the driver makes use of dma_virt_ops', 'nvmet: failed adding peer-to-peer DMA client rxe0: -19'],
    },
    {
      name: 'no published provider',
      setup: (m) => ({ client: m.dev(RNIC), disk: { p2pdma: true } }),
      expected: ['nvmet: no supported peer-to-peer memory devices found'],
    },
  ];
  for (const f of fallbacks) {
    it(`silent fallback to System RAM: ${f.name}`, () => {
      const m = boot(f.name.includes('root-ports') ? 'root-ports' : 'seed-switch', { policy: 'v2' });
      const { t, tr } = target(m);
      const s = f.setup(m);
      ramDisk(m, 'nullb0', { p2pdma: s.disk.p2pdma, parent: s.disk.parent ?? m.dev(NVME) });
      setupSubsys(m, { 1: '/dev/nullb0' });
      allowP2pmem(m);
      m.kernel.log.clear();
      const { cntlid, done } = connect(t, tr, { p2pClient: s.client });
      expect(done.cqe.status).toBe(0);
      const relevant = m.kernel.log.lines().map((l) => l.text).filter((x) => !x.startsWith('nvmet: creating') && !x.includes('keep-alive'));
      expect(relevant).toEqual(f.expected);
      const ctrl = t.subsystems.get(NQN)!.ctrls[0]!;
      expect(ctrl.p2pDev).toBeNull();
      expect(ctrl.p2pClients.items).toEqual([]);
      const { q } = connectIo(t, tr, cntlid, 1, { p2pClient: s.client });
      const data = pattern(8192, 5);
      expect(q.run(nvmeRwCommand({ write: true, nsid: 1, slba: 0, nlb: 16 }), { write: data }).p2pDev).toBeNull();
      expectBytes(q.run(nvmeRwCommand({ write: false, nsid: 1, slba: 0, nlb: 16 }), { readLen: 8192 }).data, data);
    });
  }

  it('p2pmem exhausted mid-workload: each command that cannot get p2pmem uses System RAM, silently; nothing is lost', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    const { t, tr } = target(m);
    const card = publish(m, CARD, 4, 64 * 1024);
    const disk = ramDisk(m, 'nullb0', { completion: { delayNs: 1000 } });
    setupSubsys(m, { 1: '/dev/nullb0' });
    allowP2pmem(m);
    const { cntlid } = connect(t, tr, { p2pClient: m.dev(RNIC) });
    const { q } = connectIo(t, tr, cntlid, 1, { p2pClient: m.dev(RNIC) });
    const before = m.kernel.log.lines().length;
    const datas = [0, 1, 2, 3, 4].map((i) => pattern(32 * 1024, 100 + i));
    for (const [i, d] of datas.entries()) expect(q.submit(nvmeRwCommand({ write: true, nsid: 1, slba: i * 64, nlb: 64 }), { write: d })).toBeNull();
    m.kernel.clock.advance(10_000);
    const writes = tr.completions.slice(-5);
    expect(writes.map((d) => d.cqe.status)).toEqual([0, 0, 0, 0, 0]);
    expect(writes.map((d) => d.p2pDev === card)).toEqual([true, true, false, false, false]);
    const ctrl = t.subsystems.get(NQN)!.ctrls[0]!;
    expect(ctrl.stats.p2pAllocFallbacks).toBe(3);
    for (const [i, d] of datas.entries()) expectBytes(disk.peek(i * 64 * 512, d.length), d);
    expect(m.kernel.log.lines().length).toBe(before); // the kernel says nothing about it
  });
});

describe('seed patch 10 (v2): nvmet_ns_enable while a controller uses p2pmem', () => {
  it('an incompatible namespace fails to enable (-EINVAL / -EXDEV), stays disabled, and I/O in flight on the others is unharmed', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    const { t, tr } = target(m);
    const card = publish(m, CARD, 4);
    const disk = ramDisk(m, 'nullb0', { completion: { delayNs: 5000 } });
    ramDisk(m, 'nullb1', { p2pdma: false });
    ramDisk(m, 'nullb2', { parent: m.dev('0000:00:03.0') });
    setupSubsys(m, { 1: '/dev/nullb0', 2: '/dev/nullb1', 3: '/dev/nullb2' }, { enable: false });
    w(m, `subsystems/${NQN}/namespaces/1/enable`, '1\n');
    allowP2pmem(m);
    const { cntlid } = connect(t, tr, { p2pClient: m.dev(RNIC) });
    const ctrl = t.subsystems.get(NQN)!.ctrls[0]!;
    expect(ctrl.p2pDev).toBe(card);
    const { q } = connectIo(t, tr, cntlid, 1, { p2pClient: m.dev(RNIC) });
    const data = pattern(16384, 9);
    expect(q.submit(nvmeRwCommand({ write: true, nsid: 1, slba: 0, nlb: 32 }), { write: data })).toBeNull();
    const cfs = m.kernel.configfs;
    expect(cfs.write(`${CFS}/subsystems/${NQN}/namespaces/2/enable`, '1\n')).toBe(err('EINVAL'));
    expect(lines(m.kernel, 'not supported by /dev/nullb1')).toEqual(['nvmet: peer-to-peer DMA is not supported by /dev/nullb1']);
    expect(cfs.read(`${CFS}/subsystems/${NQN}/namespaces/2/enable`)).toBe('0\n');
    expect(cfs.write(`${CFS}/subsystems/${NQN}/namespaces/3/enable`, '1\n')).toBe(err('EXDEV'));
    expect(lines(m.kernel, 'failed to add')).toEqual(['nvmet: failed to add peer-to-peer DMA client /dev/nullb2: -18']);
    expect(cfs.read(`${CFS}/subsystems/${NQN}/namespaces/3/enable`)).toBe('0\n');
    // Seed finding: the failed enable of nullb1 ran pci_p2pdma_remove_client for its PCI
    // function, 05:00.0, which is also nullb0's: the enabled namespace lost its entry.
    expect(ctrl.p2pClients.clients()).toEqual([m.dev(RNIC)]);
    expect(ctrl.p2pDev).toBe(card);
    expect(t.subsystems.get(NQN)!.namespaces.map((n) => n.nsid)).toEqual([1]);
    m.kernel.clock.advance(10_000);
    expect(tr.completions.at(-1)!.cqe.status).toBe(0);
    expectBytes(disk.peek(0, data.length), data);
    const rd = q.submit(nvmeRwCommand({ write: false, nsid: 1, slba: 0, nlb: 32 }), { readLen: data.length });
    expect(rd).toBeNull();
    m.kernel.clock.advance(10_000);
    expectBytes(tr.completions.at(-1)!.data, data);
    expect(tr.completions.at(-1)!.p2pDev).toBe(card);
  });

  it('the same namespace enables fine before any controller connects; the connect then falls back', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    const { t, tr } = target(m);
    publish(m, CARD, 4);
    ramDisk(m, 'nullb0');
    ramDisk(m, 'nullb1', { p2pdma: false });
    setupSubsys(m, { 1: '/dev/nullb0', 2: '/dev/nullb1' });
    expect(t.subsystems.get(NQN)!.namespaces.map((n) => n.nsid)).toEqual([1, 2]);
    allowP2pmem(m);
    connect(t, tr, { p2pClient: m.dev(RNIC) });
    expect(lines(m.kernel, /^nvmet: .*peer-to-peer/)).toEqual(['nvmet: peer-to-peer DMA is not supported by /dev/nullb1']);
    expect(t.subsystems.get(NQN)!.ctrls[0]!.p2pDev).toBeNull();
  });

  it('disabling a namespace removes its client; freeing the controller frees the list', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    const { t, tr } = target(m);
    publish(m, CARD, 4);
    ramDisk(m, 'nullb0');
    ramDisk(m, 'nullb1', { parent: m.dev(CMB_NVME) });
    setupSubsys(m, { 1: '/dev/nullb0', 2: '/dev/nullb1' });
    allowP2pmem(m);
    const { admin } = connect(t, tr, { p2pClient: m.dev(RNIC) });
    const ctrl = t.subsystems.get(NQN)!.ctrls[0]!;
    expect(ctrl.p2pClients.clients()).toEqual([m.dev(RNIC), m.dev(NVME), m.dev(CMB_NVME)]);
    w(m, `subsystems/${NQN}/namespaces/2/enable`, '0\n');
    expect(ctrl.p2pClients.clients()).toEqual([m.dev(RNIC), m.dev(NVME)]);
    admin.destroy();
    expect(ctrl.freed).toBe(true);
    expect(ctrl.p2pDev).toBeNull();
    expect(ctrl.p2pClients.items).toEqual([]);
  });
});

describe('Linux 6.6 (upstream): per-namespace p2pmem', () => {
  it('p2pmem=1 (automatic): the closest provider for the RNIC and the namespace; the drive\'s own CMB wins', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    const { t, tr } = target(m);
    const card = publish(m, CARD, 4);
    const cmb = publish(m, CMB_NVME, 2);
    ramDisk(m, 'nullb0', { parent: m.dev(CMB_NVME) });
    ramDisk(m, 'nullb1', { parent: m.dev(NVME) });
    setupSubsys(m, { 1: '/dev/nullb0', 2: '/dev/nullb1' }, { p2pmem: { 1: '1', 2: CARD } });
    expect(m.kernel.configfs.read(`${CFS}/subsystems/${NQN}/namespaces/1/p2pmem`)).toBe('1\n');
    expect(m.kernel.configfs.read(`${CFS}/subsystems/${NQN}/namespaces/2/p2pmem`)).toBe(`${CARD}\n`);
    const { cntlid } = connect(t, tr, { p2pClient: m.dev(RNIC) });
    expect(lines(m.kernel, 'using p2pmem')).toEqual([`nvmet: using p2pmem on ${CMB_NVME} for nsid 1`, `nvmet: using p2pmem on ${CARD} for nsid 2`]);
    const { q } = connectIo(t, tr, cntlid, 1, { p2pClient: m.dev(RNIC) });
    const a = q.run(nvmeRwCommand({ write: true, nsid: 1, slba: 0, nlb: 8 }), { write: pattern(4096, 1) });
    const b = q.run(nvmeRwCommand({ write: true, nsid: 2, slba: 0, nlb: 8 }), { write: pattern(4096, 2) });
    expect(a.p2pDev).toBe(cmb);
    expect(b.p2pDev).toBe(card);
    expectBytes(q.run(nvmeRwCommand({ write: false, nsid: 2, slba: 0, nlb: 8 }), { readLen: 4096 }).data, pattern(4096, 2));
  });

  it('namespace enable checks: a queue without P2P support, no reachable provider (-EINVAL)', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    target(m);
    ramDisk(m, 'nullb0', { p2pdma: false });
    ramDisk(m, 'nullb1');
    setupSubsys(m, { 1: '/dev/nullb0', 2: '/dev/nullb1' }, { enable: false, p2pmem: { 1: '1', 2: '1' } });
    const cfs = m.kernel.configfs;
    expect(cfs.write(`${CFS}/subsystems/${NQN}/namespaces/1/enable`, '1\n')).toBe(err('EINVAL'));
    expect(cfs.write(`${CFS}/subsystems/${NQN}/namespaces/2/enable`, '1\n')).toBe(err('EINVAL'));
    expect(lines(m.kernel, /peer-to-peer (DMA|memory)/)).toEqual([
      'nvmet: peer-to-peer DMA is not supported by the driver of /dev/nullb0',
      'nvmet: no peer-to-peer memory is available for /dev/nullb1',
    ]);
    publish(m, CARD, 4);
    expect(cfs.write(`${CFS}/subsystems/${NQN}/namespaces/2/enable`, '1\n')).toBe(2);
  });

  it('RNIC on another root port: "no peer-to-peer memory is available that\'s supported by ..." and System RAM for that namespace', () => {
    const m = boot('root-ports', { policy: 'upstream' });
    const { t, tr } = target(m);
    publish(m, '0000:02:00.0', 2);
    ramDisk(m, 'nullb0', { parent: m.dev('0000:02:00.0') });
    setupSubsys(m, { 1: '/dev/nullb0' }, { p2pmem: { 1: '1' } });
    const { cntlid } = connect(t, tr, { p2pClient: m.dev('0000:01:00.0') });
    expect(lines(m.kernel, /^nvmet: .*(p2pmem|peer-to-peer)/)).toEqual([
      "nvmet: no peer-to-peer memory is available that's supported by 0000:01:00.0 and /dev/nullb0",
    ]);
    const { q } = connectIo(t, tr, cntlid, 1);
    expect(q.run(nvmeRwCommand({ write: true, nsid: 1, slba: 0, nlb: 8 }), { write: pattern(4096, 4) }).p2pDev).toBeNull();
  });

  it('exhaustion falls back per command; disabling the namespace drops it from the controller map', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    const { t, tr } = target(m);
    const card = publish(m, CARD, 4, 2 * MiB);
    ramDisk(m, 'nullb0', { completion: { delayNs: 100 } });
    setupSubsys(m, { 1: '/dev/nullb0' }, { p2pmem: { 1: CARD } });
    const { cntlid } = connect(t, tr, { p2pClient: m.dev(RNIC) });
    const ctrl = t.subsystems.get(NQN)!.ctrls[0]!;
    expect(ctrl.p2pNsMap.get(1)).toBe(card);
    const { q } = connectIo(t, tr, cntlid, 1);
    for (let i = 0; i < 3; i++) q.submit(nvmeRwCommand({ write: true, nsid: 1, slba: i * 2048, nlb: 2048 }), { write: pattern(MiB, i) });
    m.kernel.clock.advance(1000);
    expect(tr.completions.slice(-3).map((d) => [d.cqe.status, d.p2pDev === card])).toEqual([
      [0, true],
      [0, true],
      [0, false],
    ]);
    expect(ctrl.stats.p2pAllocFallbacks).toBe(1);
    w(m, `subsystems/${NQN}/namespaces/1/enable`, '0\n');
    expect(ctrl.p2pNsMap.size).toBe(0);
  });
});
