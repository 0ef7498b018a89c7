/**
 * The README's example runs as written (seed-switch, v2 policy: patches 07-09 in action).
 */
import { Kernel, PAGE_SIZE, pfnToPage } from '@p2pdma/kernel';
import { Bio, BLK_STS_OK, bioAddPage, REQ_OP_WRITE, submitBio } from '@p2pdma/blk';
import { enumerate, getBuiltin, kernelOptionsForTopology } from '@p2pdma/pci-core';
import { p2pdmaEnumerationHooks } from '@p2pdma/p2pdma';
import { expect, test } from 'vitest';
import { attachNvmeControllers, nvmeInit } from '../src/index';

test('README example: attach, bind, the cmb attribute, one write', () => {
  const spec = getBuiltin('seed-switch')!;
  const k = new Kernel({ ...kernelOptionsForTopology(spec), policy: 'v2' });
  const sys = enumerate(k, spec, p2pdmaEnumerationHooks(k));
  if ('error' in sys) throw new Error(sys.error.message);
  const ctrls = attachNvmeControllers(sys, { '04:00.0': { namespaces: [{ sizeBytes: 1 << 30 }] } });
  const drv = nvmeInit(k, { useCmbSqes: true });
  if (typeof drv === 'number') throw new Error(String(drv));
  expect(k.log.grep(/^nvme /).map((l) => l.text)).toEqual([
    'nvme nvme0: pci function 0000:04:00.0',
    'nvme 0000:04:00.0: added peer-to-peer DMA memory [mem 0x90000000-0x93ffffff 64bit pref]',
    'nvme nvme1: pci function 0000:05:00.0',
  ]);
  expect(k.sysfs.read('/sys/class/nvme/nvme0/cmb')).toBe('cmbloc : x00000002\ncmbsz  : x0000431b\n');
  const disk = drv.devices()[0]!.ctrl.namespaces[0]!.disk;
  const phys = k.memory.allocPages(1)!;
  k.memory.ramWrite(phys, new Uint8Array(PAGE_SIZE).fill(0xa5));
  let status: number | null = null;
  const bio = new Bio({ disk, op: REQ_OP_WRITE, sector: 0, endIo: (b) => (status = b.status) });
  bioAddPage(bio, pfnToPage(k, phys / PAGE_SIZE)!, PAGE_SIZE, 0);
  submitBio(bio);
  k.clock.runUntilIdle();
  expect(status).toBe(BLK_STS_OK);
  expect(ctrls[0]!.media(1)!.peek(0, 4)).toEqual(new Uint8Array([0xa5, 0xa5, 0xa5, 0xa5]));
});
