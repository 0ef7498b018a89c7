import { P2PDMA_POLICIES } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import { nvmetcliClear, nvmetcliRestore, nvmetcliRestoreJson, nvmetcliSave, nvmetcliSaveJson } from '../src/nvmetcli';
import { CARD, CFS, boot, mkdir, publish, ramDisk, target, w } from './helpers';

function configure(m: ReturnType<typeof boot>): void {
  ramDisk(m, 'nullb0');
  ramDisk(m, 'nullb1');
  const cfs = m.kernel.configfs;
  mkdir(m, 'hosts/nqn.host-a');
  mkdir(m, 'subsystems/nqn.sub-1');
  mkdir(m, 'subsystems/nqn.sub-1/namespaces/1');
  w(m, 'subsystems/nqn.sub-1/namespaces/1/device_path', '/dev/nullb0\n');
  w(m, 'subsystems/nqn.sub-1/namespaces/1/device_uuid', '11111111-2222-4333-8444-555555555555\n');
  w(m, 'subsystems/nqn.sub-1/namespaces/1/enable', '1\n');
  mkdir(m, 'subsystems/nqn.sub-1/namespaces/3');
  w(m, 'subsystems/nqn.sub-1/namespaces/3/device_path', '/dev/nullb1\n');
  w(m, 'subsystems/nqn.sub-1/namespaces/3/device_uuid', '11111111-2222-4333-8444-666666666666\n');
  expect(cfs.symlink(`${CFS}/hosts/nqn.host-a`, `${CFS}/subsystems/nqn.sub-1/allowed_hosts/nqn.host-a`)).toBe(0);
  w(m, 'subsystems/nqn.sub-1/attr_serial', m.kernel.policy === 'v2' ? 'abcdef\n' : 'SN1\n');
  mkdir(m, 'subsystems/nqn.sub-2');
  w(m, 'subsystems/nqn.sub-2/attr_allow_any_host', '1\n');
  w(m, 'subsystems/nqn.sub-2/attr_serial', m.kernel.policy === 'v2' ? '1234\n' : 'SN2\n');
  mkdir(m, 'ports/2');
  w(m, 'ports/2/addr_trtype', 'loop\n');
  w(m, 'ports/2/addr_adrfam', 'ipv4\n');
  w(m, 'ports/2/addr_traddr', '10.1.1.1\n');
  w(m, 'ports/2/addr_trsvcid', '4420\n');
  expect(cfs.symlink(`${CFS}/subsystems/nqn.sub-1`, `${CFS}/ports/2/subsystems/nqn.sub-1`)).toBe(0);
  expect(cfs.symlink(`${CFS}/subsystems/nqn.sub-2`, `${CFS}/ports/2/subsystems/nqn.sub-2`)).toBe(0);
}

describe('nvmetcli save / restore JSON', () => {
  it('v2: save is nvmetcli\'s dump (sorted keys, indent 2, groups attr/device/ana/resv/addr/param)', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    target(m);
    configure(m);
    const text = nvmetcliSaveJson(m.kernel);
    expect(text.endsWith('}\n')).toBe(true);
    const cfg = JSON.parse(text);
    expect(cfg).toEqual({
      hosts: [{ nqn: 'nqn.host-a' }],
      ports: [
        {
          addr: { adrfam: 'ipv4', traddr: '10.1.1.1', treq: 'not specified', trsvcid: '4420', trtype: 'loop' },
          ana_groups: [],
          param: {},
          portid: 2,
          referrals: [],
          subsystems: ['nqn.sub-1', 'nqn.sub-2'],
        },
      ],
      subsystems: [
        {
          allowed_hosts: ['nqn.host-a'],
          attr: { allow_any_host: '0', serial: 'abcdef', version: '1.3' },
          namespaces: [
            { ana: {}, ana_grpid: 0, device: { nguid: '00000000-0000-0000-0000-000000000000', path: '/dev/nullb0', uuid: '11111111-2222-4333-8444-555555555555' }, enable: 1, nsid: 1, resv: {} },
            { ana: {}, ana_grpid: 0, device: { nguid: '00000000-0000-0000-0000-000000000000', path: '/dev/nullb1', uuid: '11111111-2222-4333-8444-666666666666' }, enable: 0, nsid: 3, resv: {} },
          ],
          nqn: 'nqn.sub-1',
        },
        { allowed_hosts: [], attr: { allow_any_host: '1', serial: '1234', version: '1.3' }, namespaces: [], nqn: 'nqn.sub-2' },
      ],
    });
    // Python's json.dumps(indent=2) layout.
    expect(text.split('\n').slice(0, 4)).toEqual(['{', '  "hosts": [', '    {', '      "nqn": "nqn.host-a"']);
  });

  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: restore rebuilds the same tree through configfs (save → clear → restore → save is identical)`, () => {
      const m = boot('seed-switch', { policy });
      const { t } = target(m);
      configure(m);
      const saved = nvmetcliSaveJson(m.kernel);
      nvmetcliClear(m.kernel);
      expect(nvmetcliSave(m.kernel)).toEqual({ hosts: [], ports: [], subsystems: [] });
      expect(t.ports.get(2)).toBeUndefined();
      const r = nvmetcliRestoreJson(m.kernel, saved);
      expect(r).toEqual({ ok: true, errors: [], warnings: [] });
      expect(nvmetcliSaveJson(m.kernel)).toBe(saved);
      expect(t.ports.get(2)!.enabled).toBe(true);
      expect(t.subsystems.get('nqn.sub-1')!.namespaces.map((n) => n.nsid)).toEqual([1]);
    });
  }

  it('a broken file is reported with nvmetcli\'s messages and leaves the previous configuration intact', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    const { t } = target(m);
    configure(m);
    w(m, 'ports/2/allow_p2pmem', '1\n');
    const before = nvmetcliSaveJson(m.kernel);
    const cfg = JSON.parse(before);
    cfg.subsystems.push({ attr: { allow_any_host: '1' } });
    cfg.subsystems[0].attr.bogus = '1';
    cfg.subsystems[0].namespaces[1].device.path = '/dev/nope';
    cfg.subsystems[0].namespaces[1].enable = 1;
    cfg.ports[0].addr.trtype = 'carrier-pigeon';
    cfg.ports.push({ addr: { trtype: 'loop' } });
    const r = nvmetcliRestore(m.kernel, cfg);
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual([
      `Cannot enable ${CFS}/subsystems/nqn.sub-1/namespaces/3: [Errno 2] No such file or directory (1)`,
    ]);
    expect(nvmetcliSaveJson(m.kernel)).toBe(before);
    // The rollback keeps what nvmetcli itself would lose.
    expect(m.kernel.configfs.read(`${CFS}/ports/2/allow_p2pmem`)).toBe('1\n');
    expect(t.ports.get(2)!.enabled).toBe(true);
    // Errors nvmetcli reports and continues after are all reported; still nothing is applied.
    delete cfg.subsystems[0].namespaces[1].enable;
    const r2 = nvmetcliRestore(m.kernel, cfg);
    // The bad trtype leaves the port without a transport, so linking it fails: nvmetcli raises
    // there (the second port is never reached).
    expect(r2.errors).toEqual([
      `Cannot find attribute: ${CFS}/subsystems/nqn.sub-1/attr_bogus`,
      "'nqn' not defined in subsystem 2",
      `Cannot set attribute ${CFS}/ports/2/addr_trtype: [Errno 22] Invalid argument`,
      `Could not symlink nqn.sub-1 in configFS: [Errno 22] Invalid argument: '${CFS}/subsystems/nqn.sub-1' -> '${CFS}/ports/2/subsystems/nqn.sub-1'`,
    ]);
    expect(nvmetcliSaveJson(m.kernel)).toBe(before);
  });

  it('malformed entries (JSON types) and non-JSON text are refused before anything is touched', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    target(m);
    configure(m);
    const before = nvmetcliSaveJson(m.kernel);
    const r = nvmetcliRestore(m.kernel, { hosts: 'x', subsystems: [{ nqn: 5, namespaces: [{ nsid: 'abc' }, 7] }], ports: [{ portid: 1, addr: 'rdma' }], extra: true });
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual([
      'hosts: expected a list, got "x"',
      'subsystems[0].nqn: expected a string, got 5',
      'subsystems[0].namespaces[1]: expected an object, got 7',
      'subsystems[0].namespaces[0].nsid: expected an integer 1..8192, got "abc"',
      'ports[0].addr: expected an object of attribute values, got "rdma"',
    ]);
    expect(r.warnings).toEqual(["ignoring unknown key 'extra'"]);
    expect(nvmetcliSaveJson(m.kernel)).toBe(before);
    const bad = nvmetcliRestoreJson(m.kernel, '{ "hosts": [ }');
    expect(bad.ok).toBe(false);
    expect(bad.errors[0]).toMatch(/^Error: /);
    expect(nvmetcliSaveJson(m.kernel)).toBe(before);
  });

  it('finding: nvmetcli does not save allow_p2pmem (v2) or p2pmem (upstream): a restored target loses P2P', () => {
    for (const policy of P2PDMA_POLICIES) {
      const m = boot('seed-switch', { policy });
      target(m);
      publish(m, CARD, 4);
      configure(m);
      if (policy === 'v2') w(m, 'ports/2/allow_p2pmem', '1\n');
      else w(m, 'subsystems/nqn.sub-1/namespaces/3/p2pmem', `${CARD}\n`);
      const saved = nvmetcliSaveJson(m.kernel);
      expect(saved).not.toContain('p2pmem');
      expect(nvmetcliRestoreJson(m.kernel, saved).ok).toBe(true);
      const path = policy === 'v2' ? `${CFS}/ports/2/allow_p2pmem` : `${CFS}/subsystems/nqn.sub-1/namespaces/3/p2pmem`;
      expect(m.kernel.configfs.read(path)).toBe('0\n');
    }
  });
});
