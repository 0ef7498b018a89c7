import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ConfigAttribute, ConfigItemType } from '../src/index';
import { ConfigGroup, ConfigItem, Configfs, Errno, err, isErr, Kernel, KernelBug, kstrtobool } from '../src/index';

/**
 * A miniature of nvmet's configfs layout (drivers/nvme/target/configfs.c):
 * nvmet/{subsystems,ports}; subsystems/<nqn>/{attr_allow_any_host, namespaces/<nsid>/enable};
 * ports/<id>/{addr_trtype, subsystems/<link to a subsystem>}.
 */
function nvmetLike(k: Kernel) {
  const events: string[] = [];
  const subsystems: ConfigGroup[] = [];
  const nsType: ConfigItemType = {
    name: 'nvmet_ns_type',
    attrs: [{ name: 'enable', show: (i) => `${i.data === true ? 1 : 0}\n`, store: (i, v) => storeBool(i, v) }],
    release: (i) => events.push(`release ns ${i.name}`),
  };
  const nsGroupType: ConfigItemType = {
    name: 'nvmet_namespaces_type',
    makeGroup: (_p, name) => (/^\d+$/.test(name) ? new ConfigGroup(name, nsType) : err('EINVAL')),
    dropItem: (_p, i) => events.push(`drop ns ${i.name}`),
  };
  const allowAnyHost: ConfigAttribute = { name: 'attr_allow_any_host', show: (i) => `${i.data === true ? 1 : 0}\n`, store: (i, v) => storeBool(i, v) };
  const subsysType: ConfigItemType = { name: 'nvmet_subsys_type', attrs: [allowAnyHost, { name: 'attr_serial', show: () => '1234\n' }], release: (i) => events.push(`release subsys ${i.name}`) };
  const subsystemsType: ConfigItemType = {
    name: 'nvmet_subsystems_type',
    makeGroup: (_p, name) => {
      if (name === 'oom') return null;
      const g = new ConfigGroup(name, subsysType);
      g.addDefaultGroup(new ConfigGroup('namespaces', nsGroupType));
      subsystems.push(g);
      return g;
    },
    dropItem: (_p, i) => events.push(`drop subsys ${i.name}`),
  };
  const portSubsysType: ConfigItemType = {
    name: 'nvmet_port_subsys_type',
    allowLink: (_src, target) => (subsystems.includes(target as ConfigGroup) ? 0 : err('EINVAL')),
    dropLink: (src, target) => events.push(`drop_link ${src.parent!.name} -> ${target.name}`),
  };
  const portType: ConfigItemType = { name: 'nvmet_port_type', attrs: [{ name: 'addr_trtype', mode: 0o644, show: () => 'rdma\n', store: (_i, v) => v.length }] };
  const portsType: ConfigItemType = {
    name: 'nvmet_ports_type',
    makeGroup: (_p, name) => {
      const g = new ConfigGroup(name, portType);
      g.addDefaultGroup(new ConfigGroup('subsystems', portSubsysType));
      return g;
    },
  };
  const root = new ConfigGroup('nvmet', { name: 'nvmet_root_type' });
  root.addDefaultGroup(new ConfigGroup('subsystems', subsystemsType));
  root.addDefaultGroup(new ConfigGroup('ports', portsType));
  expect(k.configfs.registerSubsystem(root)).toBe(0);
  return { root, events };
}

function storeBool(i: ConfigItem, v: string): number {
  const b = kstrtobool(v);
  if (isErr(b)) return b;
  i.data = b;
  return v.length;
}

const C = '/sys/kernel/config/nvmet';

describe('configfs (fs/configfs; nvmet-style subsystems, ports and links)', () => {
  it('mkdir makes items with their attributes and default groups; errors as the kernel', () => {
    const k = new Kernel();
    nvmetLike(k);
    expect(k.configfs.list('/sys/kernel/config')).toEqual(['nvmet']);
    expect(k.configfs.list(C)).toEqual(['ports', 'subsystems']);
    expect(k.configfs.mkdir(`${C}/subsystems/nqn.test`)).toBe(0);
    expect(k.configfs.list(`${C}/subsystems/nqn.test`)).toEqual(['attr_allow_any_host', 'attr_serial', 'namespaces']);
    expect(k.configfs.mkdir(`${C}/subsystems/nqn.test`)).toBe(-Errno.EEXIST);
    expect(k.configfs.mkdir(`${C}/subsystems/nqn.test/attr_serial`)).toBe(-Errno.EEXIST);
    expect(k.configfs.mkdir('/sys/kernel/config/other')).toBe(-Errno.EPERM); // configfs root
    expect(k.configfs.mkdir(`${C}/new`)).toBe(-Errno.EPERM); // nvmet root type has no make_group
    expect(k.configfs.mkdir(`${C}/subsystems/nqn.test/x`)).toBe(-Errno.EPERM);
    expect(k.configfs.mkdir(`${C}/nope/x`)).toBe(-Errno.ENOENT);
    expect(k.configfs.mkdir(`${C}/subsystems/nqn.test/attr_serial/x`)).toBe(-Errno.ENOTDIR);
    expect(k.configfs.mkdir(`${C}/subsystems/oom`)).toBe(-Errno.ENOMEM); // make_group returned NULL
    expect(k.configfs.mkdir(`${C}/subsystems/nqn.test/namespaces/abc`)).toBe(-Errno.EINVAL); // make_group's ERR_PTR
    expect(k.configfs.mkdir(`${C}/subsystems/nqn.test/namespaces/1`)).toBe(0);
    expect(k.configfs.findItem(`${C}/subsystems/nqn.test/namespaces/1`)!.path()).toBe(`${C}/subsystems/nqn.test/namespaces/1`);
  });

  it('reads and writes attributes with show/store; -EACCES without the callback', () => {
    const k = new Kernel();
    nvmetLike(k);
    k.configfs.mkdir(`${C}/subsystems/nqn.test`);
    const a = `${C}/subsystems/nqn.test/attr_allow_any_host`;
    expect(k.configfs.read(a)).toBe('0\n');
    expect(k.configfs.write(a, '1\n')).toBe(2);
    expect(k.configfs.read(a)).toBe('1\n');
    expect(k.configfs.write(a, 'maybe\n')).toBe(-Errno.EINVAL);
    expect(k.configfs.write(`${C}/subsystems/nqn.test/attr_serial`, '9')).toBe(-Errno.EACCES); // read-only
    expect(k.configfs.read(`${C}/subsystems/nqn.test`)).toBe(-Errno.EISDIR);
    expect(k.configfs.read(`${C}/subsystems/none/attr_serial`)).toBe(-Errno.ENOENT);
  });

  it('symlink/unlink call allow_link/drop_link; a linked item cannot be removed (-EBUSY)', () => {
    const k = new Kernel();
    const { events } = nvmetLike(k);
    const fs = k.configfs;
    fs.mkdir(`${C}/subsystems/nqn.test`);
    fs.mkdir(`${C}/ports/1`);
    const link = `${C}/ports/1/subsystems/nqn.test`;
    expect(fs.symlink('../../../subsystems/nqn.test', link)).toBe(0);
    expect(fs.readlink(link)).toBe('../../../../nvmet/subsystems/nqn.test');
    expect(fs.read(`${link}/attr_serial`)).toBe('1234\n'); // reads follow the link
    expect(fs.symlink(`${C}/subsystems/nqn.test`, link)).toBe(-Errno.EEXIST);
    expect(fs.symlink(`${C}/ports/1`, `${C}/ports/1/subsystems/p`)).toBe(-Errno.EINVAL); // allow_link says no
    expect(fs.symlink(`${C}/subsystems/none`, `${C}/ports/1/subsystems/n`)).toBe(-Errno.ENOENT);
    expect(fs.symlink(`${C}/subsystems/nqn.test/attr_serial`, `${C}/ports/1/subsystems/n`)).toBe(-Errno.ENOTDIR);
    expect(fs.symlink('/sys/bus/pci', `${C}/ports/1/subsystems/n`)).toBe(-Errno.EPERM); // not in configfs
    expect(fs.symlink(`${C}/subsystems/nqn.test`, `${C}/ports/1/x`)).toBe(-Errno.EPERM); // port type has no allow_link
    expect(fs.rmdir(`${C}/subsystems/nqn.test`)).toBe(-Errno.EBUSY);
    expect(fs.rmdir(`${C}/ports/1`)).toBe(-Errno.ENOTEMPTY); // holds a link in its default group
    expect(fs.rmdir(link)).toBe(-Errno.ENOTDIR);
    expect(fs.unlink(`${C}/ports/1`)).toBe(-Errno.EISDIR);
    expect(fs.unlink(`${C}/ports/1/addr_trtype`)).toBe(-Errno.EPERM);
    expect(fs.unlink(link)).toBe(0);
    expect(events).toEqual(['drop_link 1 -> nqn.test']);
    expect(fs.rmdir(`${C}/ports/1`)).toBe(0);
    expect(fs.rmdir(`${C}/subsystems/nqn.test`)).toBe(0);
  });

  it('rmdir: -ENOTEMPTY with made children, -EPERM for default groups and subsystem roots; drop then release', () => {
    const k = new Kernel();
    const { events } = nvmetLike(k);
    const fs = k.configfs;
    fs.mkdir(`${C}/subsystems/nqn.test`);
    fs.mkdir(`${C}/subsystems/nqn.test/namespaces/1`);
    expect(fs.rmdir(`${C}/subsystems/nqn.test`)).toBe(-Errno.ENOTEMPTY);
    expect(fs.rmdir(`${C}/subsystems/nqn.test/namespaces`)).toBe(-Errno.EPERM);
    expect(fs.rmdir(C)).toBe(-Errno.EPERM);
    expect(fs.rmdir('/sys/kernel/config')).toBe(-Errno.EBUSY);
    expect(fs.rmdir(`${C}/subsystems/nqn.test/attr_serial`)).toBe(-Errno.ENOTDIR);
    expect(fs.rmdir(`${C}/subsystems/none`)).toBe(-Errno.ENOENT);
    expect(fs.rmdir(`${C}/subsystems/nqn.test/namespaces/1`)).toBe(0);
    expect(fs.rmdir(`${C}/subsystems/nqn.test`)).toBe(0);
    expect(events).toEqual(['drop ns 1', 'release ns 1', 'drop subsys nqn.test', 'release subsys nqn.test']);
    expect(fs.exists(`${C}/subsystems/nqn.test`)).toBe(false);
  });

  it('registers subsystems once; unregistering a non-empty one is logged and detaches it', () => {
    const k = new Kernel();
    const { root } = nvmetLike(k);
    expect(k.configfs.registerSubsystem(new ConfigGroup('nvmet', {}))).toBe(-Errno.EEXIST);
    expect(() => k.configfs.registerSubsystem(root)).toThrow(KernelBug);
    k.configfs.mkdir(`${C}/ports/1`);
    k.configfs.unregisterSubsystem(root);
    expect(k.log.lines().map((l) => l.text)).toEqual(['configfs: Tried to unregister non-empty subsystem!']);
    expect(k.configfs.list('/sys/kernel/config')).toEqual([]);
    expect(() => new ConfigItem('a/b', {})).toThrow(KernelBug);
    expect(new Configfs(k.log).list('/sys/kernel/config')).toEqual([]);
  });

  it('property: random mkdir/rmdir/symlink/unlink sequences match a set-based oracle', () => {
    const name = fc.constantFrom('a', 'b', 'c');
    const op = fc.oneof(
      fc.record({ op: fc.constant('mksub' as const), n: name }),
      fc.record({ op: fc.constant('rmsub' as const), n: name }),
      fc.record({ op: fc.constant('mkport' as const), n: name }),
      fc.record({ op: fc.constant('rmport' as const), n: name }),
      fc.record({ op: fc.constant('link' as const), port: name, n: name }),
      fc.record({ op: fc.constant('unlink' as const), port: name, n: name }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const k = new Kernel();
        nvmetLike(k);
        const fs = k.configfs;
        const subs = new Set<string>();
        const ports = new Set<string>();
        const links = new Set<string>(); // `${port}/${sub}`
        for (const o of ops) {
          if (o.op === 'mksub') {
            expect(fs.mkdir(`${C}/subsystems/${o.n}`)).toBe(subs.has(o.n) ? -Errno.EEXIST : 0);
            subs.add(o.n);
          } else if (o.op === 'rmsub') {
            const linked = [...links].some((l) => l.endsWith(`/${o.n}`));
            const want = !subs.has(o.n) ? -Errno.ENOENT : linked ? -Errno.EBUSY : 0;
            expect(fs.rmdir(`${C}/subsystems/${o.n}`)).toBe(want);
            if (want === 0) subs.delete(o.n);
          } else if (o.op === 'mkport') {
            expect(fs.mkdir(`${C}/ports/${o.n}`)).toBe(ports.has(o.n) ? -Errno.EEXIST : 0);
            ports.add(o.n);
          } else if (o.op === 'rmport') {
            const busy = [...links].some((l) => l.startsWith(`${o.n}/`));
            const want = !ports.has(o.n) ? -Errno.ENOENT : busy ? -Errno.ENOTEMPTY : 0;
            expect(fs.rmdir(`${C}/ports/${o.n}`)).toBe(want);
            if (want === 0) ports.delete(o.n);
          } else if (o.op === 'link') {
            const key = `${o.port}/${o.n}`;
            const want = !ports.has(o.port) ? -Errno.ENOENT : links.has(key) ? -Errno.EEXIST : !subs.has(o.n) ? -Errno.ENOENT : 0;
            expect(fs.symlink(`${C}/subsystems/${o.n}`, `${C}/ports/${o.port}/subsystems/${o.n}`)).toBe(want);
            if (want === 0) links.add(key);
          } else {
            const key = `${o.port}/${o.n}`;
            expect(fs.unlink(`${C}/ports/${o.port}/subsystems/${o.n}`)).toBe(links.has(key) ? 0 : -Errno.ENOENT);
            links.delete(key);
          }
        }
        expect(fs.list(`${C}/subsystems`)).toEqual([...subs].sort());
        expect(fs.list(`${C}/ports`)).toEqual([...ports].sort());
        for (const p of ports) expect(fs.list(`${C}/ports/${p}/subsystems`)).toEqual([...links].filter((l) => l.startsWith(`${p}/`)).map((l) => l.slice(2)).sort());
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
