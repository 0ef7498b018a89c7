/**
 * Pinned interleavings of the races (issue 9): the user-visible results, with exact errnos and
 * kernel log lines, of chosen orders of the racing actions.
 */
import { describe, expect, it } from 'vitest';
import { RACES, runRace } from '../src/races';

function race(name: string) {
  const r = RACES.find((x) => x.name === name);
  if (r === undefined) throw new Error(`no race ${name}`);
  return r;
}

describe('pinned interleavings: the user-visible results of the races', () => {
  it('upstream: port disabled during I/O deletes the controllers (6.6 nvmet_port_del_ctrls): in-flight I/O is lost, never hangs; address stores while enabled are refused with -EACCES and the kernel line', () => {
    const r = runRace(race('port-disable-during-io'), 0, { policy: 'upstream', placement: 'p2pmem', steps: [60, 61, 5, 1000, 1001] });
    expect(r.violations).toEqual([]);
    expect(r.fired).toEqual(['addr_traddr store@5', 'unlink subsystem@60', 'relink subsystem@61', 'addr_trsvcid store@end(1000)', 'host2 connect@end(1001)']);
    expect(r.notes).toEqual(['addr_traddr store: -13', 'unlink subsystem: 0', 'relink subsystem: 0', 'addr_trsvcid store: -13', 'host2 connect: ok']);
    expect(r.log).toEqual(["nvmet: Disable port '1' before changing attribute in nvmet_addr_traddr_store", "nvmet: Disable port '1' before changing attribute in nvmet_addr_trsvcid_store"]);
    expect(r.ios.lost).toBeGreaterThan(0);
    expect(r.ios.ackedBlocksLost).toBe(0);
  });

  it('v2: the same unlink leaves connected controllers alone (4.16): every I/O completes with success', () => {
    const r = runRace(race('port-disable-during-io'), 0, { policy: 'v2', placement: 'p2pmem', steps: [60, 61, 5, 1000, 1001] });
    expect(r.violations).toEqual([]);
    expect(r.notes).toEqual(['addr_traddr store: -13', 'unlink subsystem: 0', 'relink subsystem: 0', 'addr_trsvcid store: -13', 'host2 connect: ok']);
    expect(r.ios).toMatchObject({ failed: 0, lost: 0, ackedBlocksLost: 0 });
  });

  it('namespace disabled while the host writes: later commands fail (INVALID_NS), none is lost, the acknowledged ones read back after re-enable', () => {
    for (const policy of ['upstream', 'v2'] as const) {
      const r = runRace(race('ns-enable-vs-connect'), 3, { policy, placement: 'system', steps: [40, 1000, 1001, 1002, 1003] });
      expect(r.violations, policy).toEqual([]);
      expect(r.notes.slice(0, 1), policy).toEqual(['ns disable: 2']);
      expect(r.ios.failed, policy).toBeGreaterThan(0);
      expect(r.ios.lost, policy).toBe(0);
      expect(r.ios.blocksVerified, policy).toBeGreaterThan(0);
    }
  });

  it('configfs stores while enabled are refused with -EBUSY (device_path, p2pmem) and allowed hosts refuse a link while allow_any_host is set (kernel line)', () => {
    const r = runRace(race('configfs-writes-during-io'), 0, { policy: 'upstream', placement: 'p2pmem', steps: [10, 11, 1000, 1001, 1002, 12, 1003, 1004] });
    expect(r.violations).toEqual([]);
    expect(r.notes.slice(0, 4)).toEqual(['device_path store: -16', 'p2pmem store: -16', 'mkdir host2: 0', 'link host2: -22']);
    expect(r.log).toEqual(["nvmet: can't add hosts when allow_any_host is set!"]);
  });

  it('pinning the wrong number of steps is a model-use error (RangeError)', () => {
    expect(() => runRace(race('ns-enable-vs-connect'), 0, { steps: [1] })).toThrow(RangeError);
  });
});
