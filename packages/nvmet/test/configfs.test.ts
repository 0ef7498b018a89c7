import { err, P2PDMA_POLICIES } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import { CARD, CFS, NQN, RNIC, boot, lines, mkdir, publish, ramDisk, target, w } from './helpers';

describe('nvmet configfs layout (drivers/nvme/target/configfs.c)', () => {
  it('v2 (seed patch 10): ports have allow_p2pmem with CONFIG_PCI_P2PDMA, namespaces no p2pmem; upstream the reverse', () => {
    for (const policy of P2PDMA_POLICIES) {
      for (const p2p of [true, false]) {
        const m = boot('seed-switch', { policy, config: { CONFIG_PCI_P2PDMA: p2p } });
        target(m);
        const cfs = m.kernel.configfs;
        expect(cfs.list(CFS)).toEqual(['hosts', 'ports', 'subsystems']);
        mkdir(m, 'ports/1');
        mkdir(m, `subsystems/${NQN}`);
        mkdir(m, `subsystems/${NQN}/namespaces/1`);
        const port = ['addr_adrfam', 'addr_traddr', 'addr_treq', 'addr_trsvcid', 'addr_trtype', 'referrals', 'subsystems'];
        if (policy === 'v2' && p2p) port.push('allow_p2pmem');
        if (policy === 'upstream') port.push('param_inline_data_size');
        expect(cfs.list(`${CFS}/ports/1`)).toEqual(port.sort());
        expect(cfs.list(`${CFS}/subsystems/${NQN}`)).toEqual(['allowed_hosts', 'attr_allow_any_host', 'attr_serial', 'attr_version', 'namespaces']);
        const ns = ['device_nguid', 'device_path', 'device_uuid', 'enable'];
        if (policy === 'upstream' && p2p) ns.push('p2pmem');
        expect(cfs.list(`${CFS}/subsystems/${NQN}/namespaces/1`)).toEqual(ns.sort());
      }
    }
  });
});

/** The 4.16 strtobool rules, written out independently of the model's parser. */
function strtobool416(s: string): 0 | 1 | null {
  const c0 = s.charAt(0);
  if ('yY1'.includes(c0) && c0 !== '') return 1;
  if ('nN0'.includes(c0) && c0 !== '') return 0;
  if (c0 === 'o' || c0 === 'O') {
    const c1 = s.charAt(1);
    if (c1 === 'n' || c1 === 'N') return 1;
    if (c1 === 'f' || c1 === 'F') return 0;
  }
  return null;
}

describe('allow_p2pmem store (seed patch 10: strtobool of 4.16)', () => {
  it('accepts exactly what strtobool accepts, for every first byte (and every second byte after o/O)', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    target(m);
    mkdir(m, 'ports/1');
    const path = `${CFS}/ports/1/allow_p2pmem`;
    const cfs = m.kernel.configfs;
    const inputs: string[] = [];
    for (let b = 0; b < 256; b++) inputs.push(`${String.fromCharCode(b)}\n`, `${String.fromCharCode(b)}x`);
    for (let b = 0; b < 256; b++) inputs.push(`o${String.fromCharCode(b)}`, `O${String.fromCharCode(b)}\n`);
    inputs.push('', 'true\n', 'false\n', 'yes\n', 'no\n', 'on\n', 'off\n', '1\n', '0\n', 'Y', 'ON', 'oF');
    let accepted = 0;
    for (const s of inputs) {
      cfs.write(path, '0\n');
      const want = strtobool416(s);
      const r = cfs.write(path, s);
      if (want === null) {
        expect(r, JSON.stringify(s)).toBe(err('EINVAL'));
        expect(cfs.read(path)).toBe('0\n');
      } else {
        expect(r, JSON.stringify(s)).toBe(s.length);
        expect(cfs.read(path)).toBe(`${want}\n`);
        accepted++;
      }
    }
    // y Y 1 n N 0 with "\n" and "x" (12), o/O + n N f F (8), and the named extras (yes no on off 1 0 Y ON oF).
    expect(accepted).toBe(12 + 8 + 9);
  });

  it('upstream booleans are kstrtobool: "true"/"false" work for namespace enable, where 4.16 refuses them', () => {
    for (const policy of P2PDMA_POLICIES) {
      const m = boot('seed-switch', { policy });
      target(m);
      ramDisk(m, 'nullb0');
      mkdir(m, `subsystems/${NQN}`);
      mkdir(m, `subsystems/${NQN}/namespaces/1`);
      w(m, `subsystems/${NQN}/namespaces/1/device_path`, '/dev/nullb0\n');
      const r = m.kernel.configfs.write(`${CFS}/subsystems/${NQN}/namespaces/1/enable`, 'true\n');
      expect(r).toBe(policy === 'v2' ? err('EINVAL') : 5);
    }
  });
});

describe('port attributes', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: trtype/adrfam/treq names, bad values, and no changes while the port is enabled`, () => {
      const m = boot('seed-switch', { policy });
      target(m);
      const cfs = m.kernel.configfs;
      mkdir(m, 'ports/7');
      const p = `${CFS}/ports/7`;
      expect(cfs.read(`${p}/addr_trtype`)).toBe('\n');
      expect(cfs.read(`${p}/addr_treq`)).toBe('not specified\n');
      expect(cfs.write(`${p}/addr_trtype`, 'infiniband\n')).toBe(err('EINVAL'));
      expect(lines(m.kernel, 'for trtype')).toEqual(["nvmet: Invalid value 'infiniband\n' for trtype"]);
      expect(cfs.write(`${p}/addr_trtype`, 'tcp')).toBe(policy === 'v2' ? err('EINVAL') : 3);
      w(m, 'ports/7/addr_trtype', 'loop\n');
      expect(cfs.read(`${p}/addr_trtype`)).toBe('loop\n');
      expect(cfs.write(`${p}/addr_adrfam`, 'pcie\n')).toBe(policy === 'v2' ? err('EINVAL') : 5);
      w(m, 'ports/7/addr_adrfam', 'ipv4');
      expect(cfs.read(`${p}/addr_adrfam`)).toBe('ipv4\n');
      w(m, 'ports/7/addr_traddr', '  10.0.0.1  trailing words\n');
      expect(cfs.read(`${p}/addr_traddr`)).toBe('10.0.0.1\n');
      expect(cfs.write(`${p}/addr_traddr`, 'x'.repeat(257))).toBe(err('EINVAL'));
      expect(cfs.write(`${p}/addr_trsvcid`, '   \n')).toBe(err('EINVAL'));
      expect(cfs.mkdir(`${p}/referrals/r1`)).toBe(err('EPERM'));
      w(m, 'ports/7/addr_treq', 'required\n');
      expect(cfs.read(`${p}/addr_treq`)).toBe('required\n');
      mkdir(m, `subsystems/${NQN}`);
      expect(cfs.symlink(`${CFS}/subsystems/${NQN}`, `${p}/subsystems/${NQN}`)).toBe(0);
      m.kernel.log.clear();
      expect(cfs.write(`${p}/addr_trtype`, 'rdma\n')).toBe(err('EACCES'));
      expect(lines(m.kernel, 'nvmet:')).toEqual(
        policy === 'v2'
          ? ['nvmet: Cannot modify address while enabled', 'nvmet: Disable the address before modifying']
          : ["nvmet: Disable port '7' before changing attribute in nvmet_addr_trtype_store"],
      );
      expect(cfs.rmdir(p)).toBe(err('ENOTEMPTY'));
      expect(cfs.rmdir(`${CFS}/subsystems/${NQN}`)).toBe(err('EBUSY'));
      expect(cfs.unlink(`${p}/subsystems/${NQN}`)).toBe(0);
      expect(cfs.rmdir(p)).toBe(0);
      expect(cfs.mkdir(`${CFS}/ports/70000`)).toBe(err('EINVAL'));
      expect(cfs.mkdir(`${CFS}/ports/x1`)).toBe(err('EINVAL'));
    });
  }

  it('linking a subsystem enables the port through its transport; without one: "transport type 1 not supported"', () => {
    const m = boot('seed-switch', { policy: 'v2' });
    const { t } = target(m);
    const cfs = m.kernel.configfs;
    mkdir(m, 'ports/1');
    w(m, 'ports/1/addr_trtype', 'rdma\n');
    mkdir(m, `subsystems/${NQN}`);
    expect(cfs.symlink(`${CFS}/subsystems/${NQN}`, `${CFS}/ports/1/subsystems/${NQN}`)).toBe(err('EINVAL'));
    expect(lines(m.kernel, 'not supported')).toEqual(['nvmet: transport type 1 not supported']);
    expect(t.ports.get(1)!.enabled).toBe(false);
    mkdir(m, 'hosts/h1');
    expect(cfs.symlink(`${CFS}/hosts/h1`, `${CFS}/ports/1/subsystems/h1`)).toBe(err('EINVAL'));
    expect(lines(m.kernel, 'can only link')).toEqual(['nvmet: can only link subsystems into the subsystems dir.!']);
  });
});

describe('subsystem and host attributes', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: allow_any_host vs allowed_hosts, version, serial, the discovery NQN`, () => {
      const m = boot('seed-switch', { policy });
      target(m);
      const cfs = m.kernel.configfs;
      const s = `${CFS}/subsystems/${NQN}`;
      mkdir(m, `subsystems/${NQN}`);
      expect(cfs.mkdir(`${CFS}/subsystems/nqn.2014-08.org.nvmexpress.discovery`)).toBe(err('EINVAL'));
      expect(lines(m.kernel, 'discovery')).toEqual(["nvmet: can't create discovery subsystem through configfs"]);
      mkdir(m, 'hosts/h1');
      expect(cfs.symlink(`${CFS}/hosts/h1`, `${s}/allowed_hosts/h1`)).toBe(0);
      expect(cfs.symlink(`${CFS}/hosts/h1`, `${s}/allowed_hosts/again`)).toBe(err('EEXIST'));
      expect(cfs.write(`${s}/attr_allow_any_host`, '1\n')).toBe(err('EINVAL'));
      expect(lines(m.kernel, 'explicit hosts')).toEqual(["nvmet: Can't set allow_any_host when explicit hosts are set!"]);
      expect(cfs.rmdir(`${CFS}/hosts/h1`)).toBe(err('EBUSY'));
      expect(cfs.unlink(`${s}/allowed_hosts/h1`)).toBe(0);
      w(m, `subsystems/${NQN}/attr_allow_any_host`, '1\n');
      expect(cfs.symlink(`${CFS}/hosts/h1`, `${s}/allowed_hosts/h1`)).toBe(err('EINVAL'));
      expect(lines(m.kernel, "can't add hosts")).toEqual(["nvmet: can't add hosts when allow_any_host is set!"]);
      expect(cfs.symlink(`${s}/namespaces`, `${s}/allowed_hosts/x`)).toBe(err('EINVAL'));
      expect(cfs.read(`${s}/attr_version`)).toBe('1.3\n');
      w(m, `subsystems/${NQN}/attr_version`, '1.4.2\n');
      expect(cfs.read(`${s}/attr_version`)).toBe('1.4.2\n');
      expect(cfs.write(`${s}/attr_version`, 'one.two\n')).toBe(err('EINVAL'));
      if (policy === 'v2') {
        expect(cfs.read(`${s}/attr_serial`)).toMatch(/^[0-9a-f]+\n$/);
        w(m, `subsystems/${NQN}/attr_serial`, '0xdeadbeef\n');
        expect(cfs.read(`${s}/attr_serial`)).toBe('deadbeef\n');
        expect(cfs.write(`${s}/attr_serial`, 'xyz\n')).toBe(err('EINVAL'));
      } else {
        expect(cfs.read(`${s}/attr_serial`)).toMatch(/^[0-9a-f]{16}\n$/);
        w(m, `subsystems/${NQN}/attr_serial`, 'SN-0001\n');
        expect(cfs.read(`${s}/attr_serial`)).toBe('SN-0001\n');
        expect(cfs.write(`${s}/attr_serial`, `${'x'.repeat(21)}\n`)).toBe(err('EINVAL'));
        expect(lines(m.kernel, 'Serial Number')).toEqual(['nvmet: Serial Number can not be empty or exceed 20 Bytes']);
      }
    });
  }
});

describe('namespace attributes', () => {
  for (const policy of P2PDMA_POLICIES) {
    it(`${policy}: nsid names, device_path, uuid/nguid, enable errors`, () => {
      const m = boot('seed-switch', { policy });
      target(m);
      ramDisk(m, 'nullb0');
      const cfs = m.kernel.configfs;
      mkdir(m, `subsystems/${NQN}`);
      const nss = `${CFS}/subsystems/${NQN}/namespaces`;
      expect(cfs.mkdir(`${nss}/0`)).toBe(err('EINVAL'));
      expect(cfs.mkdir(`${nss}/abc`)).toBe(err('EINVAL'));
      expect(cfs.mkdir(`${nss}/0x10`)).toBe(0);
      expect(lines(m.kernel, 'adding nsid')).toEqual([`nvmet: adding nsid 16 to subsystem ${NQN}`]);
      const n = `${nss}/0x10`;
      expect(cfs.read(`${n}/device_path`)).toBe('(null)\n');
      expect(cfs.write(`${n}/enable`, '1\n')).toBe(err('EINVAL'));
      expect(cfs.write(`${n}/device_path`, '\n')).toBe(err('EINVAL'));
      w(m, `subsystems/${NQN}/namespaces/0x10/device_path`, '/dev/missing\n');
      expect(cfs.write(`${n}/enable`, '1\n')).toBe(err('ENOENT'));
      expect(lines(m.kernel, 'failed to open')).toEqual(['nvmet: failed to open block device (null): (-22)', 'nvmet: failed to open block device /dev/missing: (-2)']);
      expect(cfs.read(`${n}/enable`)).toBe('0\n');
      w(m, `subsystems/${NQN}/namespaces/0x10/device_uuid`, '12345678-9abc-4def-8123-456789abcdef\n');
      expect(cfs.read(`${n}/device_uuid`)).toBe('12345678-9abc-4def-8123-456789abcdef\n');
      expect(cfs.write(`${n}/device_uuid`, '12345678-9abc-4def-8123\n')).toBe(err('EINVAL'));
      w(m, `subsystems/${NQN}/namespaces/0x10/device_nguid`, '00:11:22:33-44556677-8899aabbccddeeff\n');
      expect(cfs.read(`${n}/device_nguid`)).toBe('00112233-4455-6677-8899-aabbccddeeff\n');
      w(m, `subsystems/${NQN}/namespaces/0x10/device_path`, '/dev/nullb0\n');
      w(m, `subsystems/${NQN}/namespaces/0x10/enable`, '1\n');
      expect(cfs.write(`${n}/device_path`, '/dev/other\n')).toBe(err('EBUSY'));
      expect(cfs.write(`${n}/device_uuid`, '12345678-9abc-4def-8123-456789abcdef\n')).toBe(err('EBUSY'));
      expect(cfs.rmdir(`${CFS}/subsystems/${NQN}`)).toBe(err('ENOTEMPTY'));
      expect(cfs.rmdir(n)).toBe(0);
      expect(cfs.rmdir(`${CFS}/subsystems/${NQN}`)).toBe(0);
    });
  }

  it('upstream p2pmem (pci_p2pdma_enable_store/show): booleans, device names, errors, -EBUSY while enabled', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    target(m);
    ramDisk(m, 'nullb0');
    publish(m, CARD, 4);
    const cfs = m.kernel.configfs;
    mkdir(m, `subsystems/${NQN}`);
    mkdir(m, `subsystems/${NQN}/namespaces/1`);
    const p = `${CFS}/subsystems/${NQN}/namespaces/1/p2pmem`;
    expect(cfs.read(p)).toBe('0\n');
    const cases: [string, number, string][] = [
      ['1\n', 2, '1\n'],
      ['0', 1, '0\n'],
      ['yes\n', 4, '1\n'],
      ['off\n', 4, '0\n'],
      [`${CARD}\n`, 13, `${CARD}\n`],
      ['on', 2, '1\n'],
      ['auto\n', err('ENODEV'), '1\n'],
      ['10\n', err('ENODEV'), '1\n'],
      ['0000:01:00.1\n', err('ENODEV'), '1\n'],
      [`${RNIC}\n`, err('ENODEV'), '1\n'],
    ];
    for (const [v, r, shown] of cases) {
      expect(cfs.write(p, v), JSON.stringify(v)).toBe(r);
      expect(cfs.read(p)).toBe(shown);
    }
    expect(lines(m.kernel, /No such PCI device|no peer-to-peer memory/)).toEqual([
      'pci-p2pdma: No such PCI device: auto',
      'pci-p2pdma: No such PCI device: 10',
      'pci-p2pdma: No such PCI device: 0000:01:00.1',
      `pci ${RNIC}: PCI device has no peer-to-peer memory: ${RNIC}\n`,
    ]);
    w(m, `subsystems/${NQN}/namespaces/1/device_path`, '/dev/nullb0\n');
    w(m, `subsystems/${NQN}/namespaces/1/enable`, '1\n');
    expect(cfs.write(p, '0\n')).toBe(err('EBUSY'));
  });
});
