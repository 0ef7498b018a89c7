import type { Kernel } from '@p2pdma/kernel';
import { err, isErr, P2PDMA_POLICIES } from '@p2pdma/kernel';
import { pciRegisterDriver } from '@p2pdma/pci-core';
import type { IbDevice } from '@p2pdma/rdma-rw';
import { mlx5CoreDriver, mlx5IbDevice, RemoteHost, rnicAttach } from '@p2pdma/rdma-rw';
import { describe, expect, it } from 'vitest';
import { NvmfController, NvmfInitiator } from '../src/initiator';
import { RdmaCmNetwork } from '../src/rdma-cm';
import { nvmetRdmaInit } from '../src/rdma';
import { nvmetInit } from '../src/target';
import { CFS, MiB, NQN, RNIC, boot, expectBytes, lines, mkdir, pattern, ramDisk, w } from './helpers';
import { NVME_COMMAND_SIZE, NvmeCompletion, NVME_SGL_FMT_DATA_DESC, NVME_SGL_FMT_OFFSET, nvmeRwCommand } from '../src/nvme-command';
import { NVME_SC_DNR, NVME_SC_SGL_INVALID_OFFSET, NVME_SC_SGL_INVALID_TYPE, NVME_SC_CONNECT_INVALID_PARAM } from '../src/nvme-status';
import { NVME_RDMA_CM_INVALID_RECFMT, nvmeRdmaEncodeCmReq } from '../src/rdma-cm';

const ADDR = '192.168.10.1';

function mlx5(m: ReturnType<typeof boot>): IbDevice {
  expect(isErr(rnicAttach(m.dev(RNIC)))).toBe(false);
  expect(pciRegisterDriver(m.kernel, mlx5CoreDriver())).toBe(0);
  return mlx5IbDevice(m.dev(RNIC))!;
}

function rdmaTarget(m: ReturnType<typeof boot>, opts: { p2p?: boolean; inline?: string; disk?: { p2pdma?: boolean; delayNs?: number } } = {}) {
  const ib = mlx5(m);
  const net = new RdmaCmNetwork();
  expect(net.addAddress(ib, ADDR)).toBe(0);
  const t = nvmetInit(m.kernel);
  if (isErr(t)) throw new Error('nvmetInit');
  expect(isErr(nvmetRdmaInit(t, net))).toBe(false);
  const disk = ramDisk(m, 'nullb0', { p2pdma: opts.disk?.p2pdma ?? true, completion: opts.disk?.delayNs ? { delayNs: opts.disk.delayNs } : 'sync', capacityBytes: 16 * MiB });
  mkdir(m, `subsystems/${NQN}`);
  w(m, `subsystems/${NQN}/attr_allow_any_host`, '1\n');
  mkdir(m, `subsystems/${NQN}/namespaces/1`);
  w(m, `subsystems/${NQN}/namespaces/1/device_path`, '/dev/nullb0\n');
  if (opts.p2p === true && m.kernel.policy === 'upstream') w(m, `subsystems/${NQN}/namespaces/1/p2pmem`, '1\n');
  w(m, `subsystems/${NQN}/namespaces/1/enable`, '1\n');
  mkdir(m, 'ports/1');
  w(m, 'ports/1/addr_trtype', 'rdma\n');
  w(m, 'ports/1/addr_adrfam', 'ipv4\n');
  w(m, 'ports/1/addr_traddr', `${ADDR}\n`);
  w(m, 'ports/1/addr_trsvcid', '4420\n');
  if (opts.inline !== undefined) w(m, 'ports/1/param_inline_data_size', `${opts.inline}\n`);
  if (opts.p2p === true && m.kernel.policy === 'v2') w(m, 'ports/1/allow_p2pmem', '1\n');
  expect(m.kernel.configfs.symlink(`${CFS}/subsystems/${NQN}`, `${CFS}/ports/1/subsystems/${NQN}`)).toBe(0);
  const host = new RemoteHost({ name: 'host0', memoryBytes: 8 * MiB });
  const ini = new NvmfInitiator({ host, network: net, clock: m.kernel.clock });
  return { t, net, ib, disk, host, ini };
}

function connected(k: Kernel, ini: NvmfInitiator, nrIoQueues = 1): NvmfController {
  const c = ini.connect({ traddr: ADDR, subsysnqn: NQN, nrIoQueues });
  if (!(c instanceof NvmfController)) throw new Error(`connect: ${c.error}`);
  expect(k.log.grep('enabling port 1 (192.168.10.1:4420)').length).toBe(1);
  return c;
}

describe('nvmet-rdma + initiator over the RNIC model (RAM disk backend)', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: connect, identify, write and read back over RDMA (keyed SGLs and in-capsule data)`, () => {
      const m = boot('seed-switch', { policy });
      const { ini, disk, host } = rdmaTarget(m);
      const c = connected(m.kernel, ini, 2);
      expect(c.cntlid).toBe(1);
      expect(c.idCtrl!.subnqn).toBe(NQN);
      expect(c.idCtrl!.ioccsz).toBe((64 + 4096) / 16);
      expect([...c.namespaces.values()]).toEqual([{ nsid: 1, nsze: 32768, lbaSize: 512 }]);
      expect(c.ioQueues.length).toBe(2);
      const big = pattern(64 * 1024, 11);
      expect(c.write(1, 8, big).cqe!.status).toBe(0);
      expectBytes(disk.peek(8 * 512, big.length), big);
      const small = pattern(2048, 12);
      m.kernel.clock.advance(1e5);
      const rx = host.counters.txBytes;
      expect(c.write(1, 1000, small, 2).cqe!.status).toBe(0);
      // In-capsule: the data went with the SEND (64 + 2048 bytes), no RDMA READ.
      expect(host.counters.txBytes - rx).toBe(64 + 2048);
      const r = c.read(1, 8, 128);
      expect(r.cqe!.status).toBe(0);
      expectBytes(r.data, big);
      expectBytes(c.read(1, 1000, 4, 2).data, small);
      expect(c.flush(1).cqe!.status).toBe(0);
      c.disconnect();
      m.kernel.clock.advance(1e6);
    });
  }
});

describe('nvmet_rdma_add_port and RDMA CM', () => {
  it('address family, malformed address, unbound address, address in use', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    rdmaTarget(m);
    const cfs = m.kernel.configfs;
    const port = (id: number, adrfam: string, addr: string, svc = '4420') => {
      mkdir(m, `ports/${id}`);
      w(m, `ports/${id}/addr_trtype`, 'rdma\n');
      w(m, `ports/${id}/addr_adrfam`, `${adrfam}\n`);
      w(m, `ports/${id}/addr_traddr`, `${addr}\n`);
      w(m, `ports/${id}/addr_trsvcid`, `${svc}\n`);
      return cfs.symlink(`${CFS}/subsystems/${NQN}`, `${CFS}/ports/${id}/subsystems/${NQN}`);
    };
    expect(port(2, 'ib', ADDR)).toBe(-22);
    expect(port(3, 'ipv4', '10.0.0')).toBe(-22);
    expect(port(4, 'ipv4', '10.9.9.9')).toBe(-99);
    expect(port(5, 'ipv4', ADDR)).toBe(-98);
    expect(port(6, 'ipv4', '0.0.0.0', '4421')).toBe(0);
    expect(lines(m.kernel, 'nvmet_rdma:')).toEqual([
      'nvmet_rdma: enabling port 1 (192.168.10.1:4420)',
      'nvmet_rdma: address family 3 not supported',
      'nvmet_rdma: malformed ip/port passed: 10.0.0:4420',
      'nvmet_rdma: binding CM ID to 10.9.9.9:4420 failed (-99)',
      'nvmet_rdma: binding CM ID to 192.168.10.1:4420 failed (-98)',
      'nvmet_rdma: enabling port 6 (0.0.0.0:4421)',
    ]);
  });

  it('connect requests: bad record format rejected, nothing listening refused, unknown subsystem fails Connect', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    const { net, host, ini } = rdmaTarget(m);
    const bad = net.connect(host, ADDR, '4420', nvmeRdmaEncodeCmReq({ recfmt: 1, qid: 0, hrqsize: 32, hsqsize: 31 }));
    expect('reject' in (bad as object)).toBe(true);
    expect(new DataView((bad as { reject: Uint8Array }).reject.buffer).getUint16(2, true)).toBe(NVME_RDMA_CM_INVALID_RECFMT);
    expect(lines(m.kernel, 'recfmt')).toEqual(['nvmet_rdma: invalid recfmt 1']);
    expect(net.connect(host, ADDR, '4421', nvmeRdmaEncodeCmReq({ recfmt: 0, qid: 0, hrqsize: 32, hsqsize: 31 }))).toBe(err('ECONNREFUSED'));
    expect(net.connect(host, '10.0.0.9', '4420', new Uint8Array(32))).toBe(err('EHOSTUNREACH'));
    const r = ini.connect({ traddr: ADDR, subsysnqn: 'nqn.nope' });
    expect(r).toEqual({ error: 'admin Connect to nqn.nope failed', status: NVME_SC_CONNECT_INVALID_PARAM | NVME_SC_DNR });
    m.kernel.clock.advance(1e6);
  });
});

describe('nvmet_rdma_map_sgl: descriptor checks and in-capsule data', () => {
  it('an unknown SGL type is SGL_INVALID_TYPE, an in-capsule offset past the inline size SGL_INVALID_OFFSET', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    const { ini } = rdmaTarget(m);
    const c = connected(m.kernel, ini);
    const q = c.ioQueues[0]!.qp;
    const send = (cmd: ReturnType<typeof nvmeRwCommand>, extra = 0) => {
      const cap = new Uint8Array(NVME_COMMAND_SIZE + extra);
      cap.set(cmd.bytes);
      expect(q.postSend(cap)).toBe(0);
      m.kernel.clock.advance(1e5);
      return NvmeCompletion.decode(q.received.at(-1)!);
    };
    const t1 = nvmeRwCommand({ write: true, nsid: 1, slba: 0, nlb: 1 });
    t1.commandId = 900;
    t1.sglType = 0x30;
    expect(send(t1).status).toBe(NVME_SC_SGL_INVALID_TYPE | NVME_SC_DNR);
    const t2 = nvmeRwCommand({ write: true, nsid: 1, slba: 0, nlb: 8 });
    t2.commandId = 901;
    t2.sglType = (NVME_SGL_FMT_DATA_DESC << 4) | NVME_SGL_FMT_OFFSET;
    t2.sglAddr = 512;
    t2.sglLength = 4096;
    expect(send(t2, 4096).status).toBe(NVME_SC_SGL_INVALID_OFFSET | NVME_SC_DNR);
    expect(lines(m.kernel, /nvmet_rdma: invalid/)).toEqual(['nvmet_rdma: invalid SGL type: 0x30', 'nvmet_rdma: invalid inline data offset!']);
  });

  it('upstream param_inline_data_size: 0 disables in-capsule data, 65536 is clamped to 16384', () => {
    for (const [size, ioccsz, warn] of [
      ['0', 4, []],
      ['65536', (64 + 16384) / 16, ['nvmet_rdma: inline_data_size 65536 is too large, reducing to 16384']],
    ] as const) {
      const m = boot('seed-switch', { policy: 'upstream' });
      const { ini, host } = rdmaTarget(m, { inline: size });
      const c = connected(m.kernel, ini);
      expect(c.idCtrl!.ioccsz).toBe(ioccsz);
      expect(lines(m.kernel, 'too large')).toEqual([...warn]);
      m.kernel.clock.advance(1e5); // let the Asynchronous Event Request capsule arrive first
      const before = host.counters.txBytes;
      expect(c.write(1, 0, pattern(8192, 1)).cqe!.status).toBe(0);
      // 64-byte capsule plus, in-capsule, the data; else the data goes by RDMA READ: same bytes either way.
      expect(host.counters.txBytes - before, `inline ${size}`).toBe(64 + 8192);
      expectBytes(c.read(1, 0, 16).data, pattern(8192, 1));
    }
  });

  it('an RDMA READ refused by the host (bad rkey) fails the controller: "RDMA READ ... failed with status remote access error (10)."', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    const { ini, t } = rdmaTarget(m);
    const c = connected(m.kernel, ini);
    const q = c.ioQueues[0]!.qp;
    const cmd = nvmeRwCommand({ write: true, nsid: 1, slba: 0, nlb: 64 });
    cmd.commandId = 77;
    cmd.sglType = 0x40;
    cmd.sglAddr = 0;
    cmd.keyedSglLength = 32768;
    cmd.sglKey = 0xdead;
    expect(q.postSend(cmd.bytes)).toBe(0);
    m.kernel.clock.advance(1e6);
    expect(lines(m.kernel, 'RDMA READ')).toEqual(['nvmet_rdma: RDMA READ for CQE 0x1 failed with status remote access error (10).']);
    expect(lines(m.kernel, 'fatal error')).toEqual(['nvmet: ctrl 1 fatal error occurred!']);
    expect(t.subsystems.get(NQN)!.ctrls).toEqual([]);
  });
});
