/**
 * Regressions found by the hostile-input fuzzers of tooling/soak (project issue 9): each test
 * names the input that broke the model and the kernel / nvmetcli behaviour it must have.
 */
import { err, Errno } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import { nvmetcliRestore, nvmetcliSave } from '../src/nvmetcli';
import { CFS, boot, lines, mkdir, target } from './helpers';

describe('param_inline_data_size store (drivers/nvme/target/configfs.c nvmet_param_inline_data_size_store: kstrtoint)', () => {
  it('accepts -1, the value a new port shows (was: -EINVAL and "Invalid value", since -1 looked like -EPERM)', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    target(m);
    mkdir(m, 'ports/2');
    const path = `${CFS}/ports/2/param_inline_data_size`;
    const cfs = m.kernel.configfs;
    expect(cfs.read(path)).toBe('-1\n');
    expect(cfs.write(path, '-1\n')).toBe(3);
    expect(cfs.write(path, '-2147483648\n')).toBe(12);
    expect(cfs.read(path)).toBe('-2147483648\n');
    expect(lines(m.kernel, 'inline_data_size')).toEqual([]);
    expect(cfs.write(path, '2147483648\n')).toBe(err('EINVAL'));
    expect(cfs.write(path, '-2147483649\n')).toBe(-Errno.EINVAL);
    expect(lines(m.kernel, 'inline_data_size')).toEqual(["nvmet: Invalid value '2147483648\n' for inline_data_size", "nvmet: Invalid value '-2147483649\n' for inline_data_size"]);
  });

  it('nvmetcli save + restore of a port never enabled round-trips (the saved "-1" restores)', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    target(m);
    mkdir(m, 'ports/2');
    const cfs = m.kernel.configfs;
    for (const [a, v] of [['addr_trtype', 'rdma'], ['addr_adrfam', 'ipv4'], ['addr_traddr', '192.168.0.1'], ['addr_trsvcid', '4421']] as const) expect(cfs.write(`${CFS}/ports/2/${a}`, `${v}\n`)).toBeGreaterThan(0);
    const saved = nvmetcliSave(m.kernel);
    expect(saved.ports[0]!['param']).toEqual({ inline_data_size: '-1' });
    expect(nvmetcliRestore(m.kernel, saved)).toEqual({ ok: true, errors: [], warnings: [] });
    expect(nvmetcliSave(m.kernel)).toEqual(saved);
  });
});

describe('nvmetcli restore of names with a NUL byte (Python: ValueError: embedded null byte)', () => {
  it('refuses the file before touching configfs, with one line naming the entry (was: KernelBug thrown from config_item)', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    target(m);
    mkdir(m, 'hosts/h0');
    const before = nvmetcliSave(m.kernel);
    const r = nvmetcliRestore(m.kernel, {
      hosts: [{ nqn: 'a\u0000b' }],
      subsystems: [{ nqn: 's\u0000', allowed_hosts: ['x\u0000y'] }],
    });
    expect(r).toEqual({
      ok: false,
      errors: [
        'hosts[0].nqn: embedded null byte in "a\\u0000b"',
        'subsystems[0].nqn: embedded null byte in "s\\u0000"',
        'subsystems[0].allowed_hosts[0]: embedded null byte in "x\\u0000y"',
      ],
      warnings: [],
    });
    expect(nvmetcliSave(m.kernel)).toEqual(before);
  });
});

describe('nvmetcli restore errors stay on one line (control characters quoted from the file are escaped)', () => {
  it('a subsystem link to an NQN with a newline reports one line and rolls back (was: the raw newline split the message)', () => {
    const m = boot('seed-switch', { policy: 'upstream' });
    target(m);
    const before = nvmetcliSave(m.kernel);
    const r = nvmetcliRestore(m.kernel, { ports: [{ portid: 2, addr: { trtype: 'rdma' }, subsystems: ['nqn.x\n\u0007'] }] });
    expect(r.ok).toBe(false);
    expect(r.errors).toEqual([
      "Could not symlink nqn.x\\n\\x07 in configFS: [Errno 2] No such file or directory: '/sys/kernel/config/nvmet/subsystems/nqn.x\\n\\x07' -> '/sys/kernel/config/nvmet/ports/2/subsystems/nqn.x\\n\\x07'",
    ]);
    expect(nvmetcliSave(m.kernel)).toEqual(before);
  });
});
