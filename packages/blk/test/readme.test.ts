/** The README example (plug merging, then patch 05/10's refusal of a P2P bio) runs as documented. */
import { Kernel, PAGE_SIZE, pfnToPage } from '@p2pdma/kernel';
import { expect, it } from 'vitest';
import type { RamBlockDevice } from '../src/index';
import { Bio, bioAddPage, BlkPlug, blkFinishPlug, blkStartPlug, blkStatusToErrno, createRamBlockDevice, REQ_OP_WRITE, reqFlags, submitBio } from '../src/index';

it('the README example runs as documented', () => {
  const k = new Kernel();
  const dev = createRamBlockDevice(k, { name: 'nullb0', capacityBytes: 1 << 20, queueDepth: 32 }) as RamBlockDevice;
  const phys = k.memory.allocPages(2)!;
  const page = (i: number) => pfnToPage(k, phys / PAGE_SIZE + i)!;

  const plug = new BlkPlug(k);
  blkStartPlug(plug);
  for (const i of [0, 1]) {
    const bio = new Bio({ disk: dev.disk, op: REQ_OP_WRITE, sector: 8 * i });
    bioAddPage(bio, page(i), PAGE_SIZE, 0);
    submitBio(bio);
  }
  blkFinishPlug(plug);
  expect(dev.trace[0]).toMatchObject({ op: 'REQ_OP_WRITE', sector: 0, bytes: 8192, nrBios: 2, nrSegments: 1 });

  const logged: number[] = [];
  const p2p = new Bio({ disk: dev.disk, op: REQ_OP_WRITE, flags: reqFlags(k).REQ_PCI_P2PDMA, endIo: (b) => logged.push(blkStatusToErrno(b.status)) });
  bioAddPage(p2p, page(0), PAGE_SIZE, 0);
  submitBio(p2p);
  expect(logged).toEqual([-95]);
  expect(dev.stats.queueRqCalls).toBe(1);
});
