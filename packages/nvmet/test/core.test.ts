import { KERN_DEBUG, KERN_INFO, P2PDMA_POLICIES } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import {
  NVME_CC_ENABLE_NVM,
  NVME_CNTLID_DYNAMIC,
  NVME_REG_CAP,
  NVME_REG_CC,
  NVME_REG_CSTS,
  NVME_REG_VS,
  nvmfConnectCommand,
  nvmfEncodeConnectData,
  nvmfPropertyGetCommand,
  nvmfPropertySetCommand,
} from '../src/nvme-fabrics';
import {
  NVME_ID_CNS_CTRL,
  NVME_ID_CNS_NS,
  NVME_ID_CNS_NS_ACTIVE_LIST,
  NVME_LOG_CHANGED_NS,
  nvmeDecodeIdCtrl,
  nvmeDecodeIdNs,
  nvmeDecodeNsList,
  nvmeGetLogPageCommand,
  nvmeIdentifyCommand,
  nvmeSetFeaturesCommand,
  NVME_FEAT_NUM_QUEUES,
} from '../src/nvme-identify';
import { nvme_admin_async_event, nvme_admin_keep_alive, nvme_cmd_flush, nvme_cmd_write_zeroes, nvmeRwCommand, nvmeSimpleCommand } from '../src/nvme-command';
import {
  NVME_SC_CMD_SEQ_ERROR,
  NVME_SC_CONNECT_INVALID_HOST,
  NVME_SC_CONNECT_INVALID_PARAM,
  NVME_SC_DNR,
  NVME_SC_INTERNAL,
  NVME_SC_INVALID_NS,
  NVME_SC_INVALID_OPCODE,
  NVME_SC_SGL_INVALID_DATA,
} from '../src/nvme-status';
import { CFS, HOSTNQN, NQN, boot, connect, connectIo, lines, pattern, ramDisk, setupSubsys, target, w, expectBytes } from './helpers';

describe('nvmet core: connect, properties, identify (fabrics-cmd.c / admin-cmd.c)', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: admin Connect creates controller 1 (result = cntlid), I/O Connect binds queue 1, CC.EN makes CSTS.RDY`, () => {
      const m = boot('seed-switch', { policy });
      const { t, tr } = target(m);
      ramDisk(m, 'nullb0');
      setupSubsys(m, { 1: '/dev/nullb0' });
      const { admin, cntlid, done } = connect(t, tr);
      expect(done.cqe.status).toBe(0);
      expect(cntlid).toBe(1);
      const created = policy === 'v2' ? `nvmet: creating controller 1 for subsystem ${NQN} for NQN ${HOSTNQN}.` : `nvmet: creating nvm controller 1 for subsystem ${NQN} for NQN ${HOSTNQN}.`;
      expect(lines(m.kernel, 'creating')).toEqual([created]);
      expect(admin.run(nvmfPropertyGetCommand(NVME_REG_CSTS, false)).cqe.result).toBe(1);
      expect(admin.run(nvmfPropertyGetCommand(NVME_REG_CC, false)).cqe.result).toBe(NVME_CC_ENABLE_NVM);
      expect(admin.run(nvmfPropertyGetCommand(NVME_REG_VS, false)).cqe.result).toBe(0x10300);
      // CAP: CSS NVM (bit 37), TO 15 (7.5 s), MQES 1023.
      expect(admin.run(nvmfPropertyGetCommand(NVME_REG_CAP, true)).cqe.result).toBe(2 ** 37 + 15 * 2 ** 24 + 1023);
      expect(admin.run(nvmfPropertyGetCommand(NVME_REG_CAP, false)).cqe.status).toBe(NVME_SC_INVALID_FIELD_DNR);
      const io = connectIo(t, tr, cntlid, 1);
      expect(io.done.cqe.status).toBe(0);
      const adding = m.kernel.log.grep('adding queue 1 to ctrl 1.');
      expect(adding.map((l) => l.level)).toEqual([policy === 'v2' ? KERN_INFO : KERN_DEBUG]);
      expect(t.subsystems.get(NQN)!.ctrls[0]!.sqs[1]).toBe(io.q.sq);
    });

    it(`${policy}: Identify controller, namespace and active list describe the subsystem and the block device`, () => {
      const m = boot('seed-switch', { policy });
      const { t, tr } = target(m);
      ramDisk(m, 'nullb0', { capacityBytes: 4 * 2 ** 20 });
      ramDisk(m, 'nullb1');
      setupSubsys(m, { 1: '/dev/nullb0', 7: '/dev/nullb1' });
      const { admin } = connect(t, tr);
      const idc = nvmeDecodeIdCtrl(admin.run(nvmeIdentifyCommand(NVME_ID_CNS_CTRL, 0), { readLen: 4096 }).data!);
      expect(idc.mn).toBe('Linux');
      expect(idc.fr).toBe(policy === 'v2' ? '4.16.0' : '6.6.0');
      expect(idc.cntlid).toBe(1);
      expect(idc.nn).toBe(7);
      expect(idc.subnqn).toBe(NQN);
      expect(idc.aerl).toBe(3);
      expect(idc.sn).toMatch(/^[0-9a-f]{16}$/);
      const ns = nvmeDecodeIdNs(admin.run(nvmeIdentifyCommand(NVME_ID_CNS_NS, 1), { readLen: 4096 }).data!);
      expect(ns.nsze).toBe(8192);
      expect(ns.ncap).toBe(8192);
      expect(ns.lbaDs).toBe(9);
      expect(nvmeDecodeNsList(admin.run(nvmeIdentifyCommand(NVME_ID_CNS_NS_ACTIVE_LIST, 0), { readLen: 4096 }).data!)).toEqual([1, 7]);
      expect(nvmeDecodeNsList(admin.run(nvmeIdentifyCommand(NVME_ID_CNS_NS_ACTIVE_LIST, 1), { readLen: 4096 }).data!)).toEqual([7]);
      // An inactive NSID: 4.16 INVALID_NS|DNR, 6.6 a zeroed structure.
      const inactive = admin.run(nvmeIdentifyCommand(NVME_ID_CNS_NS, 3), { readLen: 4096 });
      if (policy === 'v2') expect(inactive.cqe.status).toBe(NVME_SC_INVALID_NS | NVME_SC_DNR);
      else {
        expect(inactive.cqe.status).toBe(0);
        expect(inactive.data!.every((b) => b === 0)).toBe(true);
      }
      const nq = admin.run(nvmeSetFeaturesCommand(NVME_FEAT_NUM_QUEUES, 0x00ff00ff));
      const n = policy === 'v2' ? 63 : 127;
      expect(nq.cqe.result).toBe(n | (n << 16));
    });

    it(`${policy}: Read returns exactly what Write stored, through bios on the RAM disk; Flush completes`, () => {
      const m = boot('seed-switch', { policy });
      const { t, tr } = target(m);
      const disk = ramDisk(m, 'nullb0');
      setupSubsys(m, { 1: '/dev/nullb0' });
      const { cntlid } = connect(t, tr);
      const { q } = connectIo(t, tr, cntlid, 1);
      const data = pattern(3 * 4096 + 1024, 7);
      const wr = q.run(nvmeRwCommand({ write: true, nsid: 1, slba: 10, nlb: data.length / 512 }), { write: data });
      expect(wr.cqe.status).toBe(0);
      expectBytes(disk.peek(10 * 512, data.length), data);
      const rd = q.run(nvmeRwCommand({ write: false, nsid: 1, slba: 10, nlb: data.length / 512 }), { readLen: data.length });
      expect(rd.cqe.status).toBe(0);
      expectBytes(rd.data, data);
      expect(rd.p2pDev).toBeNull();
      expect(q.run(nvmeSimpleCommand(nvme_cmd_flush, 1)).cqe.status).toBe(0);
      expect(disk.stats.writes).toBe(1);
      expect(disk.stats.reads).toBe(1);
    });

    it(`${policy}: I/O errors map to NVMe statuses (invalid NSID, unhandled opcode, length mismatch, beyond the end)`, () => {
      const m = boot('seed-switch', { policy });
      const { t, tr } = target(m);
      ramDisk(m, 'nullb0', { capacityBytes: 2 ** 20 });
      setupSubsys(m, { 1: '/dev/nullb0' });
      const { cntlid } = connect(t, tr);
      const { q } = connectIo(t, tr, cntlid, 1);
      expect(q.run(nvmeRwCommand({ write: false, nsid: 2, slba: 0, nlb: 1 }), { readLen: 512 }).cqe.status).toBe(NVME_SC_INVALID_NS | NVME_SC_DNR);
      expect(q.run(nvmeSimpleCommand(nvme_cmd_write_zeroes, 1)).cqe.status).toBe(NVME_SC_INVALID_OPCODE | NVME_SC_DNR);
      expect(lines(m.kernel, 'unhandled cmd')).toEqual(['nvmet: unhandled cmd 8 on qid 1']);
      // The data pointer says 1024 bytes, the command 2 blocks of 512... and 4 blocks: mismatch.
      expect(q.run(nvmeRwCommand({ write: false, nsid: 1, slba: 0, nlb: 4 }), { readLen: 1024 }).cqe.status).toBe(NVME_SC_SGL_INVALID_DATA | NVME_SC_DNR);
      // Past the end: the block layer refuses the bio; both generations report INTERNAL|DNR.
      const past = q.run(nvmeRwCommand({ write: false, nsid: 1, slba: 2048, nlb: 1 }), { readLen: 512 });
      expect(past.cqe.status).toBe(NVME_SC_INTERNAL | NVME_SC_DNR);
      expect(lines(m.kernel, 'attempt to access beyond end of device')).toHaveLength(1);
    });

    it(`${policy}: Connect refusals: unlinked subsystem, host not allowed, unknown cntlid, command before Connect`, () => {
      const m = boot('seed-switch', { policy });
      const { t, tr } = target(m);
      ramDisk(m, 'nullb0');
      setupSubsys(m, { 1: '/dev/nullb0' });
      const bad = connect(t, tr, { subsysnqn: 'nqn.other' });
      expect(bad.done.cqe.status).toBe(NVME_SC_CONNECT_INVALID_PARAM | NVME_SC_DNR);
      expect(bad.done.cqe.result).toBe((1 << 16) | 256);
      expect(lines(m.kernel, 'invalid subsystem')).toEqual(['nvmet: connect request for invalid subsystem nqn.other!']);
      w(m, `subsystems/${NQN}/attr_allow_any_host`, '0\n');
      const denied = connect(t, tr);
      expect(denied.done.cqe.status).toBe(NVME_SC_CONNECT_INVALID_HOST | NVME_SC_DNR);
      expect(denied.done.cqe.result).toBe((1 << 16) | 512);
      expect(lines(m.kernel, 'not allowed')).toEqual([`nvmet: connect by host ${HOSTNQN} for subsystem ${NQN} not allowed`]);
      // Allow the host by link.
      expect(m.kernel.configfs.mkdir(`${CFS}/hosts/${HOSTNQN}`)).toBe(0);
      expect(m.kernel.configfs.symlink(`${CFS}/hosts/${HOSTNQN}`, `${CFS}/subsystems/${NQN}/allowed_hosts/${HOSTNQN}`)).toBe(0);
      expect(connect(t, tr).done.cqe.status).toBe(0);
      const io = connectIo(t, tr, 9, 1);
      expect(io.done.cqe.status).toBe(NVME_SC_CONNECT_INVALID_PARAM | NVME_SC_DNR);
      expect(lines(m.kernel, 'could not find controller')).toEqual([`nvmet: could not find controller 9 for subsys ${NQN} / host ${HOSTNQN}`]);
      const q = tr.queue(t.ports.get(1)!);
      expect(q.run(nvmeIdentifyCommand(NVME_ID_CNS_CTRL, 0), { readLen: 4096 }).cqe.status).toBe(NVME_SC_INVALID_OPCODE | NVME_SC_DNR);
      expect(lines(m.kernel, 'unconnected queue')).toEqual(['nvmet: invalid command 0x6 on unconnected queue.']);
    });

    it(`${policy}: I/O before CC.EN is a command sequence error`, () => {
      const m = boot('seed-switch', { policy });
      const { t, tr } = target(m);
      ramDisk(m, 'nullb0');
      setupSubsys(m, { 1: '/dev/nullb0' });
      const admin = tr.queue(t.ports.get(1)!);
      const data = nvmfEncodeConnectData({ hostid: new Uint8Array(16), cntlid: NVME_CNTLID_DYNAMIC, subsysnqn: NQN, hostnqn: HOSTNQN });
      expect(admin.run(nvmfConnectCommand({ qid: 0, sqsize: 31, kato: 15000 }), { write: data }).cqe.status).toBe(0);
      expect(admin.run(nvmeIdentifyCommand(NVME_ID_CNS_CTRL, 0), { readLen: 4096 }).cqe.status).toBe(NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR);
      expect(lines(m.kernel, 'CC.EN == 0')).toEqual(['nvmet: got io cmd 6 while CC.EN == 0 on qid = 0']);
      expect(admin.run(nvmfPropertySetCommand(NVME_REG_CC, NVME_CC_ENABLE_NVM)).cqe.status).toBe(0);
      expect(admin.run(nvmeIdentifyCommand(NVME_ID_CNS_CTRL, 0), { readLen: 4096 }).cqe.status).toBe(0);
    });
  }
});

const NVME_SC_INVALID_FIELD_DNR = 0x4002;

describe('nvmet keep-alive on the virtual clock (nvmet_keep_alive_timer)', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: without Keep Alive the controller fails after kato seconds and the transport deletes it`, () => {
      const m = boot('seed-switch', { policy });
      const { t, tr } = target(m);
      ramDisk(m, 'nullb0');
      setupSubsys(m, { 1: '/dev/nullb0' });
      const { admin } = connect(t, tr, { kato: 5000 });
      m.kernel.clock.advance(4e9);
      expect(admin.run(nvmeSimpleCommand(nvme_admin_keep_alive)).cqe.status).toBe(0);
      m.kernel.clock.advance(4e9);
      expect(tr.deleted).toHaveLength(0);
      m.kernel.clock.advance(1.5e9);
      if (policy === 'upstream') {
        // 6.6: the Keep Alive command itself was traffic: the timer re-arms once more.
        expect(lines(m.kernel, 'reschedule')).toEqual(['nvmet: ctrl 1 reschedule traffic based keep-alive timer']);
        expect(tr.deleted).toHaveLength(0);
        m.kernel.clock.advance(5e9);
      }
      expect(lines(m.kernel, 'expired')).toEqual(['nvmet: ctrl 1 keep-alive timer (5 seconds) expired!']);
      expect(lines(m.kernel, 'fatal error')).toEqual(['nvmet: ctrl 1 fatal error occurred!']);
      expect(tr.deleted.map((c) => c.cntlid)).toEqual([1]);
      expect(t.subsystems.get(NQN)!.ctrls).toEqual([]);
      expect(t.cntlidIda.size).toBe(0);
    });
  }

  it('upstream: traffic resets the timer once (traffic-based keep-alive), v2 does not', () => {
    for (const policy of P2PDMA_POLICIES) {
      const m = boot('seed-switch', { policy });
      const { t, tr } = target(m);
      ramDisk(m, 'nullb0');
      setupSubsys(m, { 1: '/dev/nullb0' });
      const { admin } = connect(t, tr, { kato: 5000 });
      m.kernel.clock.advance(3e9);
      admin.run(nvmeIdentifyCommand(NVME_ID_CNS_CTRL, 0), { readLen: 4096 });
      m.kernel.clock.advance(2.5e9);
      expect(tr.deleted.length).toBe(policy === 'v2' ? 1 : 0);
    }
  });
});

describe('asynchronous events on namespace changes', () => {
  it('upstream (6.6): a parked AER completes with NOTICE/NS_CHANGED/log 4; the Changed NS List names the NSID and clears', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    const { t, tr } = target(m);
    ramDisk(m, 'nullb0');
    ramDisk(m, 'nullb1');
    setupSubsys(m, { 1: '/dev/nullb0' });
    const { admin } = connect(t, tr);
    expect(admin.submit(nvmeSimpleCommand(nvme_admin_async_event))).toBeNull();
    m.kernel.configfs.mkdir(`${CFS}/subsystems/${NQN}/namespaces/5`);
    w(m, `subsystems/${NQN}/namespaces/5/device_path`, '/dev/nullb1\n');
    w(m, `subsystems/${NQN}/namespaces/5/enable`, '1\n');
    m.kernel.clock.advance(1);
    const aen = tr.completions.at(-1)!;
    expect(aen.cqe.status).toBe(0);
    expect(aen.cqe.result).toBe(0x00040002);
    const log = admin.run(nvmeGetLogPageCommand(NVME_LOG_CHANGED_NS, 4096), { readLen: 4096 });
    expect(new DataView(log.data!.buffer).getUint32(0, true)).toBe(5);
    expect(new DataView(log.data!.buffer).getUint32(4, true)).toBe(0);
    const again = admin.run(nvmeGetLogPageCommand(NVME_LOG_CHANGED_NS, 4096), { readLen: 4096 });
    expect(again.data!.every((b) => b === 0)).toBe(true);
  });

  it('v2 (4.16): the AER result is NOTICE with info 0 and no log page; the Changed NS log is an unhandled command', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    const { t, tr } = target(m);
    ramDisk(m, 'nullb0');
    ramDisk(m, 'nullb1');
    setupSubsys(m, { 1: '/dev/nullb0' });
    const { admin } = connect(t, tr);
    admin.submit(nvmeSimpleCommand(nvme_admin_async_event));
    m.kernel.configfs.mkdir(`${CFS}/subsystems/${NQN}/namespaces/5`);
    w(m, `subsystems/${NQN}/namespaces/5/device_path`, '/dev/nullb1\n');
    w(m, `subsystems/${NQN}/namespaces/5/enable`, '1\n');
    m.kernel.clock.advance(1);
    expect(tr.completions.at(-1)!.cqe.result).toBe(0x00000002);
    expect(admin.run(nvmeGetLogPageCommand(NVME_LOG_CHANGED_NS, 4096), { readLen: 4096 }).cqe.status).toBe(NVME_SC_INVALID_OPCODE | NVME_SC_DNR);
  });

  it('a fifth parked AER is refused with ASYNC_LIMIT|DNR; destroying the admin queue fails the parked ones', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    const { t, tr } = target(m);
    ramDisk(m, 'nullb0');
    setupSubsys(m, { 1: '/dev/nullb0' });
    const { admin } = connect(t, tr);
    for (let i = 0; i < 4; i++) expect(admin.submit(nvmeSimpleCommand(nvme_admin_async_event))).toBeNull();
    expect(admin.run(nvmeSimpleCommand(nvme_admin_async_event)).cqe.status).toBe(0x4105);
    admin.destroy();
    expect(tr.completions.slice(-4).map((d) => d.cqe.status)).toEqual([0x4006, 0x4006, 0x4006, 0x4006]);
    expect(t.subsystems.get(NQN)!.ctrls).toEqual([]);
  });
});
