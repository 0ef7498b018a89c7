/**
 * Hostile input for the NVMe-oF target's configuration (issue 9): nvmetcli restore of broken
 * files and configfs operations with hostile names and values. Contract: loads, or is refused
 * with one-line errors and leaves the configfs tree and target state exactly as before; never
 * throws; never hangs (drivers/nvme/target/configfs.c, nvmetcli Root.restore).
 */
import { nvmetcliRestore } from '@p2pdma/nvmet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { configfsSnapshot } from '../src/configfs-snapshot';
import type { ConfigfsSession, NvmetcliInput } from '../src/fuzz';
import { applyJsonOps, CONFIGFS_FUZZ, createFuzzContext, fuzzTestbed, NVMETCLI_FUZZ } from '../src/fuzz';

const POLICIES = ['upstream', 'v2'] as const;

describe('nvmetcli restore of hostile files: applied whole, or refused with one-line errors and nothing changed', () => {
  for (const policy of POLICIES) {
    it(`${policy}: mutated saved files, arbitrary JSON, cut and random text`, () => {
      const ctx = createFuzzContext(policy);
      fc.assert(
        fc.property(NVMETCLI_FUZZ.arbitrary(ctx), (input: NvmetcliInput) => {
          expect(NVMETCLI_FUZZ.check(ctx, input)).toBeNull();
        }),
        { seed: policy === 'upstream' ? 42 : 43, numRuns: 80 },
      );
    });
  }

  it('the check itself catches a refused file that changed the configuration (it can fail)', () => {
    const ctx = createFuzzContext('upstream');
    const bed = fuzzTestbed(ctx);
    // A file that fails half-way: the model rolls back, so the check passes ...
    const bad: NvmetcliInput = { kind: 'value', value: { hosts: [{ nqn: 'h' }], ports: [{ portid: 5, addr: { trtype: 'bogus' } }] } };
    expect(NVMETCLI_FUZZ.check(ctx, bad)).toBeNull();
    // ... and a configuration changed behind the check's back is reported.
    const before = configfsSnapshot(bed.kernel, bed.target);
    expect(bed.kernel.configfs.mkdir('/sys/kernel/config/nvmet/hosts/intruder')).toBe(0);
    expect(configfsSnapshot(bed.kernel, bed.target)).not.toBe(before);
    expect(nvmetcliRestore(bed.kernel, ctx.baseline).ok).toBe(true);
    expect(configfsSnapshot(bed.kernel, bed.target)).toBe(before);
  });

  it('a name with a NUL byte is refused before anything is touched (regression: KernelBug from config_item)', () => {
    const ctx = createFuzzContext('upstream');
    const bed = fuzzTestbed(ctx);
    const before = configfsSnapshot(bed.kernel, bed.target);
    expect(nvmetcliRestore(bed.kernel, { hosts: [{ nqn: 'nul\u0000byte' }] })).toEqual({ ok: false, errors: ['hosts[0].nqn: embedded null byte in "nul\\u0000byte"'], warnings: [] });
    expect(configfsSnapshot(bed.kernel, bed.target)).toBe(before);
    expect(NVMETCLI_FUZZ.check(ctx, { kind: 'value', value: { subsystems: [{ nqn: 'a\u0000', namespaces: [] }] } })).toBeNull();
  });

  it('a port saved before it was ever enabled restores (regression: param_inline_data_size -1 refused)', () => {
    const ctx = createFuzzContext('upstream');
    fuzzTestbed(ctx);
    const input: NvmetcliInput = {
      kind: 'value',
      value: { ports: [{ portid: 2, addr: { trtype: 'rdma', adrfam: 'ipv4', traddr: '192.168.0.1', trsvcid: '4421', treq: 'not specified' }, subsystems: [] }] },
    };
    expect(NVMETCLI_FUZZ.check(ctx, input)).toBeNull();
  });
});

describe('configfs sessions with hostile names and values: a failed operation changes nothing, nothing throws', () => {
  for (const policy of POLICIES) {
    it(`${policy}: stores to every attribute, mkdir/rmdir/symlink/unlink, enable toggled at any time`, () => {
      const ctx = createFuzzContext(policy);
      fc.assert(
        fc.property(CONFIGFS_FUZZ.arbitrary(ctx), (session: ConfigfsSession) => {
          expect(CONFIGFS_FUZZ.check(ctx, session)).toBeNull();
        }),
        { seed: policy === 'upstream' ? 44 : 45, numRuns: 60 },
      );
    });
  }

  it('refusals return the kernel errnos (address store while enabled: -EACCES; device_path while enabled: -EBUSY; bad nsid: -EINVAL)', () => {
    const ctx = createFuzzContext('upstream');
    const bed = fuzzTestbed(ctx);
    const root = '/sys/kernel/config/nvmet';
    const cfs = bed.kernel.configfs;
    const before = configfsSnapshot(bed.kernel, bed.target);
    expect(cfs.write(`${root}/ports/1/addr_traddr`, '10.0.0.1\n')).toBe(-13);
    expect(cfs.write(`${root}/subsystems/${bed.subsysnqn}/namespaces/1/device_path`, '/dev/null\n')).toBe(-16);
    expect(cfs.mkdir(`${root}/subsystems/${bed.subsysnqn}/namespaces/0`)).toBe(-22);
    expect(cfs.write(`${root}/subsystems/${bed.subsysnqn}/attr_allow_any_host`, 'maybe\n')).toBe(-22);
    expect(configfsSnapshot(bed.kernel, bed.target)).toBe(before);
    expect(
      bed.kernel.log
        .lines()
        .map((l) => l.text)
        .filter((t) => t.includes('Disable port') || t.includes('invalid nsid')),
    ).toEqual(["nvmet: Disable port '1' before changing attribute in nvmet_addr_traddr_store", 'nvmet: invalid nsid 0x0']);
  });
});

describe('configfs names with a NUL byte or a slash (issue 9: the fuzzer generates them again)', () => {
  it('mkdir/symlink/write with a NUL in a name: -EINVAL, nothing changes, nothing throws (regression: KernelBug from config_item); a session of them passes the check', () => {
    const ctx = createFuzzContext('upstream');
    const bed = fuzzTestbed(ctx);
    const root = '/sys/kernel/config/nvmet';
    const cfs = bed.kernel.configfs;
    const before = configfsSnapshot(bed.kernel, bed.target);
    expect(cfs.mkdir(`${root}/hosts/nul\u0000byte`)).toBe(-22);
    expect(cfs.mkdir(`${root}/subsystems/\u0000`)).toBe(-22);
    expect(cfs.symlink(`${root}/subsystems/${bed.subsysnqn}`, `${root}/ports/1/subsystems/a\u0000`)).toBe(-22);
    expect(cfs.write(`${root}/subsystems/nul\u0000byte/attr_serial`, '1\n')).toBe(-22);
    // A '/' splits the path: the parent 'a' does not exist.
    expect(cfs.mkdir(`${root}/hosts/a/b`)).toBe(-2);
    expect(configfsSnapshot(bed.kernel, bed.target)).toBe(before);
    const session: ConfigfsSession = [
      { op: 'mkdir', path: 'hosts/nul\u0000byte' },
      { op: 'mkdir', path: 'subsystems/a/b' },
      { op: 'symlink', target: 'hosts/nul\u0000byte', path: `subsystems/${bed.subsysnqn}/allowed_hosts/nul\u0000byte` },
      { op: 'rmdir', path: 'subsystems/\u0000' },
    ];
    expect(CONFIGFS_FUZZ.check(ctx, session)).toBeNull();
  });

  it('the configfs arbitrary draws names with a NUL byte again', () => {
    const ctx = createFuzzContext('v2');
    const sessions = fc.sample(CONFIGFS_FUZZ.arbitrary(ctx), { seed: 46, numRuns: 200 });
    const paths = sessions.flat().map((o) => o.path);
    expect(paths.some((p) => p.includes('\u0000'))).toBe(true);
    expect(paths.some((p) => p.includes('a/b'))).toBe(true);
  });
});

describe('applyJsonOps (the mutation engine of the JSON fuzzers)', () => {
  it('inserts copies: editing an inserted value changes neither the shared value nor makes the document circular (regression: soak crash "Converting circular structure to JSON")', () => {
    const shared = { traddr: '192.168.0.1' };
    const doc = { ports: [{ addr: {} }] };
    const out = applyJsonOps(doc, [
      { op: 'set', path: 3, value: shared },
      { op: 'setKey', path: 3, key: 'traddr', value: shared },
      { op: 'append', path: 1, value: shared },
    ]);
    expect(shared).toEqual({ traddr: '192.168.0.1' });
    expect(doc).toEqual({ ports: [{ addr: {} }] });
    expect(JSON.stringify(out)).toBe('{"ports":[{"addr":{"traddr":{"traddr":"192.168.0.1"}}},{"traddr":"192.168.0.1"}]}');
  });
});
