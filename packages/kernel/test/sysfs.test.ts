import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AttributeGroup, BusType, SysfsAttribute } from '../src/index';
import {
  Device,
  deviceAdd,
  deviceDel,
  Errno,
  err,
  FAULT_SYSFS_CREATE_GROUP,
  KERN_WARNING,
  Kernel,
  KernelBug,
  SYSFS_MODE_RO,
  SYSFS_MODE_RW,
  SYSFS_MODE_WO,
  sysfsCreateFile,
  sysfsCreateGroup,
  sysfsCreateLink,
  sysfsRemoveFile,
  sysfsRemoveGroup,
  sysfsRemoveLink,
} from '../src/index';

const pciBus: BusType = { name: 'pci', match: () => false };
const DEV_DIR = '/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0';

function setup() {
  const k = new Kernel();
  const host = new Device(k, 'pci0000:00');
  deviceAdd(host);
  const port = new Device(k, '0000:00:01.0', { parent: host, bus: pciBus });
  deviceAdd(port);
  const dev = new Device(k, '0000:01:00.0', { parent: port, bus: pciBus, className: 'nvme' });
  deviceAdd(dev);
  return { k, dev, kobj: k.sysfs.deviceKobj(dev)! };
}

/** The p2pmem group of seed patch 02: size, available, published, read-only, decimal + newline. */
function p2pmemGroup(state: { size: number; avail: number; published: boolean }): AttributeGroup {
  return {
    name: 'p2pmem',
    attrs: [
      { name: 'size', mode: SYSFS_MODE_RO, show: () => `${state.size}\n` },
      { name: 'available', mode: SYSFS_MODE_RO, show: () => `${state.avail}\n` },
      { name: 'published', mode: SYSFS_MODE_RO, show: () => `${state.published ? 1 : 0}\n` },
    ],
  };
}

describe('sysfs tree for devices (kobject_add, bus and class links)', () => {
  it('creates /sys/devices/<chain> on deviceAdd, with bus and class symlinks; removes them on deviceDel', () => {
    const { k, dev, kobj } = setup();
    expect(kobj.path()).toBe(DEV_DIR);
    expect(k.sysfs.list('/sys/bus/pci/devices')).toEqual(['0000:00:01.0', '0000:01:00.0']);
    expect(k.sysfs.readlink('/sys/bus/pci/devices/0000:01:00.0')).toBe('../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0');
    expect(k.sysfs.readlink('/sys/class/nvme/0000:01:00.0')).toBe('../../devices/pci0000:00/0000:00:01.0/0000:01:00.0');
    expect(k.sysfs.findDir('/sys/bus/pci/devices/0000:01:00.0')).toBe(kobj);
    expect(k.sysfs.list('/sys/devices/pci0000:00')).toEqual(['0000:00:01.0']);
    deviceDel(k.findDevice('0000:00:01.0')!);
    expect(k.sysfs.exists(DEV_DIR)).toBe(false);
    expect(k.sysfs.list('/sys/bus/pci/devices')).toEqual([]);
    expect(k.sysfs.list('/sys/class/nvme')).toEqual([]);
    expect(kobj.removed).toBe(true);
    expect(k.sysfs.deviceKobj(dev)).toBeNull();
  });
});

describe('attribute groups (sysfs_create_group / sysfs_remove_group; seed patch 02 p2pmem/)', () => {
  it('serves the p2pmem group through the bus path; enforces modes with the kernel errnos', () => {
    const { k, kobj } = setup();
    const st = { size: 16777216, avail: 16773120, published: false };
    expect(sysfsCreateGroup(kobj, p2pmemGroup(st))).toBe(0);
    const base = '/sys/bus/pci/devices/0000:01:00.0/p2pmem';
    expect(k.sysfs.list(base)).toEqual(['available', 'published', 'size']);
    expect(k.sysfs.read(`${base}/size`)).toBe('16777216\n');
    st.published = true;
    expect(k.sysfs.read(`${base}/published`)).toBe('1\n');
    expect(k.sysfs.write(`${base}/size`, '5\n')).toBe(-Errno.EACCES);
    expect(k.sysfs.read(`${base}/nope`)).toBe(-Errno.ENOENT);
    expect(k.sysfs.read(base)).toBe(-Errno.EISDIR);
    expect(k.sysfs.read(`${base}/size/x`)).toBe(-Errno.ENOTDIR);
    expect(k.sysfs.read('/proc/cpuinfo')).toBe(-Errno.ENOENT);
    sysfsRemoveGroup(kobj, p2pmemGroup(st));
    expect(k.sysfs.exists(base)).toBe(false);
    sysfsRemoveGroup(kobj, p2pmemGroup(st));
    expect(k.log.lines()).toEqual([{ time: 0, level: KERN_WARNING, text: "sysfs group 'p2pmem' not found for kobject '0000:01:00.0'" }]);
  });

  it('refuses an existing group with -EEXIST and the duplicate-filename warning', () => {
    const { k, kobj } = setup();
    const g = p2pmemGroup({ size: 0, avail: 0, published: false });
    expect(sysfsCreateGroup(kobj, g)).toBe(0);
    expect(sysfsCreateGroup(kobj, g)).toBe(-Errno.EEXIST);
    expect(k.log.lines().map((l) => [l.level, l.text])).toEqual([
      [KERN_WARNING, "sysfs: cannot create duplicate filename '/devices/pci0000:00/0000:00:01.0/0000:01:00.0/p2pmem'"],
    ]);
  });

  it('is all-or-nothing when group creation fails (FAULT_SYSFS_CREATE_GROUP): no p2pmem/ remains', () => {
    const { k, kobj } = setup();
    const before = k.sysfs.list(DEV_DIR);
    k.faults.inject(FAULT_SYSFS_CREATE_GROUP, { errno: err('ENOMEM') });
    expect(sysfsCreateGroup(kobj, p2pmemGroup({ size: 1, avail: 1, published: false }))).toBe(-Errno.ENOMEM);
    expect(k.sysfs.list(DEV_DIR)).toEqual(before);
    expect(k.sysfs.exists(`${DEV_DIR}/p2pmem`)).toBe(false);
    expect(sysfsCreateGroup(kobj, p2pmemGroup({ size: 1, avail: 1, published: false }))).toBe(0);
  });

  it('rolls an unnamed group back, keeping the pre-existing file it collided with', () => {
    const { k, kobj } = setup();
    const existing: SysfsAttribute = { name: 'b', mode: SYSFS_MODE_RO, show: () => 'old\n' };
    expect(sysfsCreateFile(kobj, existing)).toBe(0);
    const g: AttributeGroup = { attrs: ['a', 'b', 'c'].map((name) => ({ name, mode: SYSFS_MODE_RO, show: () => 'new\n' })) };
    expect(sysfsCreateGroup(kobj, g)).toBe(-Errno.EEXIST);
    expect(k.sysfs.list(DEV_DIR)).toEqual(['b']);
    expect(k.sysfs.read(`${DEV_DIR}/b`)).toBe('old\n');
    expect(k.log.lines().map((l) => l.text)).toEqual([`sysfs: cannot create duplicate filename '${DEV_DIR.slice(4)}/b'`]);
    sysfsRemoveFile(kobj, existing);
    expect(k.sysfs.list(DEV_DIR)).toEqual([]);
  });

  it('store/show callbacks: bytes consumed or errno; -EIO without a callback; modes validated', () => {
    const { k, kobj } = setup();
    let value = 'auto';
    const attrs: SysfsAttribute[] = [
      {
        name: 'rw',
        mode: SYSFS_MODE_RW,
        show: () => `${value}\n`,
        store: (v) => {
          if (v.trim() === 'bad') return err('EINVAL');
          value = v.trim();
          return v.length;
        },
      },
      { name: 'wo', mode: SYSFS_MODE_WO, store: (v) => v.length },
      { name: 'noshow', mode: SYSFS_MODE_RW, store: (v) => v.length },
    ];
    expect(sysfsCreateGroup(kobj, { attrs })).toBe(0);
    expect(k.sysfs.write(`${DEV_DIR}/rw`, 'on\n')).toBe(3);
    expect(k.sysfs.read(`${DEV_DIR}/rw`)).toBe('on\n');
    expect(k.sysfs.write(`${DEV_DIR}/rw`, 'bad\n')).toBe(-Errno.EINVAL);
    expect(k.sysfs.read(`${DEV_DIR}/wo`)).toBe(-Errno.EACCES);
    expect(k.sysfs.read(`${DEV_DIR}/noshow`)).toBe(-Errno.EIO);
    expect(k.sysfs.write(`${DEV_DIR}/missing`, '1')).toBe(-Errno.ENOENT);
    expect(k.sysfs.write(DEV_DIR, '1')).toBe(-Errno.EISDIR);
    expect(() => sysfsCreateFile(kobj, { name: 'ww', mode: 0o666 })).toThrow(KernelBug);
    expect(() => sysfsCreateFile(kobj, { name: 'a/b', mode: 0o444 })).toThrow(KernelBug);
  });

  it('symlinks between kobjects resolve for reads; removed kobjects refuse new groups', () => {
    const { k, kobj } = setup();
    const port = k.sysfs.deviceKobj(k.findDevice('0000:00:01.0')!)!;
    sysfsCreateFile(kobj, { name: 'x', mode: SYSFS_MODE_RO, show: () => 'x\n' });
    expect(sysfsCreateLink(port, kobj, 'peer')).toBe(0);
    expect(k.sysfs.read('/sys/devices/pci0000:00/0000:00:01.0/peer/x')).toBe('x\n');
    expect(sysfsCreateLink(port, kobj, 'peer')).toBe(-Errno.EEXIST);
    sysfsRemoveLink(port, 'peer');
    expect(k.sysfs.exists('/sys/devices/pci0000:00/0000:00:01.0/peer')).toBe(false);
    k.sysfs.kobjectDel(kobj);
    expect(sysfsCreateGroup(kobj, { attrs: [] })).toBe(-Errno.EINVAL);
  });

  it('property: a group is created whole or not at all, whatever collides or fails', () => {
    const name = fc.constantFrom('a', 'b', 'c', 'd', 'e');
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 3 }), fc.option(name), fc.array(name, { maxLength: 4 }), fc.boolean(), (existing, groupName, attrNames, fail) => {
        const { k, kobj } = setup();
        for (const n of existing) sysfsCreateFile(kobj, { name: n, mode: SYSFS_MODE_RO, show: () => 'old' });
        const before = k.sysfs.list(DEV_DIR);
        if (fail) k.faults.inject(FAULT_SYSFS_CREATE_GROUP);
        const g: AttributeGroup = {
          ...(groupName === null ? {} : { name: groupName }),
          attrs: attrNames.map((n) => ({ name: n, mode: SYSFS_MODE_RO, show: () => 'new' })),
        };
        const r = sysfsCreateGroup(kobj, g);
        const dir = groupName === null ? DEV_DIR : `${DEV_DIR}/${groupName}`;
        if (r === 0) {
          expect(fail).toBe(false);
          for (const n of attrNames) expect(k.sysfs.read(`${dir}/${n}`)).toBe('new');
        } else {
          expect(k.sysfs.list(DEV_DIR)).toEqual(before);
          for (const n of existing) expect(k.sysfs.read(`${DEV_DIR}/${n}`)).toBe('old');
        }
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
