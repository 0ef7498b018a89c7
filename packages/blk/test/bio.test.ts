/**
 * struct bio and block/bio.c helpers: bio_add_page, bio_sectors, bio_data_dir, bio_advance,
 * bio_split + bio_chain, bio_endio.
 */
import { KernelBug, PAGE_SIZE } from '@p2pdma/kernel';
import { describe, expect, test } from 'vitest';
import {
  Bio,
  BIO_MAX_PAGES,
  bioAddPage,
  bioAdvance,
  bioChain,
  bioDataDir,
  bioEndio,
  bioEndSector,
  bioForEachSegment,
  bioHasData,
  bioIoError,
  bioOp,
  bioSectors,
  bioSplit,
  BLK_STS_IOERR,
  BLK_STS_MEDIUM,
  BLK_STS_OK,
  READ,
  REQ_OP_DISCARD,
  REQ_OP_FLUSH,
  REQ_OP_READ,
  REQ_OP_WRITE,
  REQ_OP_WRITE_ZEROES,
  REQ_SYNC,
  WRITE,
} from '../src/index';
import { newKernel, ramPages } from './helpers';

describe('bio_add_page', () => {
  test('a range continuing the last segment in the same page extends it; others take a vector entry', () => {
    const k = newKernel();
    const [p0, p1] = ramPages(k, 2);
    const bio = new Bio({ op: REQ_OP_WRITE, sector: 8 });
    expect(bioAddPage(bio, p0!, 512, 0)).toBe(512);
    expect(bioAddPage(bio, p0!, 512, 512)).toBe(512);
    expect(bio.ioVec).toHaveLength(1);
    expect(bio.ioVec[0]!.len).toBe(1024);
    expect(bioAddPage(bio, p1!, PAGE_SIZE, 0)).toBe(PAGE_SIZE);
    expect(bio.ioVec).toHaveLength(2);
    expect(bio.iter.size).toBe(1024 + PAGE_SIZE);
    expect(bioSectors(bio)).toBe(10);
    expect(bioEndSector(bio)).toBe(18);
    expect(bioHasData(bio)).toBe(true);
  });

  test('a full vector refuses with 0 (bio_add_page could not add)', () => {
    const k = newKernel();
    const pages = ramPages(k, 3);
    const bio = new Bio({ op: REQ_OP_READ, nrVecs: 2 });
    expect(bioAddPage(bio, pages[0]!, 512, 0)).toBe(512);
    expect(bioAddPage(bio, pages[1]!, 512, 0)).toBe(512);
    expect(bioAddPage(bio, pages[2]!, 512, 0)).toBe(0);
    expect(bio.iter.size).toBe(1024);
  });

  test('ranges crossing a page, empty ranges and data-less operations are caller bugs', () => {
    const k = newKernel();
    const [p] = ramPages(k, 1);
    const bio = new Bio({ op: REQ_OP_WRITE });
    expect(() => bioAddPage(bio, p!, 512, PAGE_SIZE - 256)).toThrow(KernelBug);
    expect(() => bioAddPage(bio, p!, 0, 0)).toThrow(KernelBug);
    expect(() => bioAddPage(new Bio({ op: REQ_OP_DISCARD, size: 4096 }), p!, 512, 0)).toThrow(/REQ_OP_DISCARD bios carry no pages/);
  });

  test('bad construction options name the option', () => {
    expect(() => new Bio({ op: 5 as typeof REQ_OP_READ })).toThrow(/unknown operation 5/);
    expect(() => new Bio({ op: REQ_OP_WRITE, flags: 1 })).toThrow(/above the operation bits/);
    expect(() => new Bio({ op: REQ_OP_WRITE, nrVecs: BIO_MAX_PAGES + 1 })).toThrow(/nrVecs 257/);
    expect(() => new Bio({ op: REQ_OP_WRITE, size: 512 })).toThrow(/gets its size from bioAddPage/);
    expect(() => new Bio({ op: REQ_OP_READ, sector: -1 })).toThrow(/bad sector/);
  });
});

describe('bio_op / bio_data_dir', () => {
  test('op and direction come from bi_opf', () => {
    const w = new Bio({ op: REQ_OP_WRITE, flags: REQ_SYNC });
    expect(bioOp(w)).toBe(REQ_OP_WRITE);
    expect(w.opf).toBe(REQ_OP_WRITE | REQ_SYNC);
    expect(bioDataDir(w)).toBe(WRITE);
    expect(bioDataDir(new Bio({ op: REQ_OP_READ }))).toBe(READ);
    expect(bioDataDir(new Bio({ op: REQ_OP_WRITE_ZEROES, size: 4096 }))).toBe(WRITE);
    const f = new Bio({ op: REQ_OP_FLUSH });
    expect(bioHasData(f)).toBe(false);
    expect(bioHasData(new Bio({ op: REQ_OP_DISCARD, size: 4096 }))).toBe(false);
  });
});

describe('bio_advance and bio_for_each_segment', () => {
  test('the iterator walks partial vector entries; the vector itself is untouched', () => {
    const k = newKernel();
    const [p0, p1] = ramPages(k, 2);
    const bio = new Bio({ op: REQ_OP_WRITE, sector: 0 });
    bioAddPage(bio, p0!, 2048, 1024);
    bioAddPage(bio, p1!, 1024, 0);
    bioAdvance(bio, 1536);
    expect(bio.iter).toEqual({ sector: 3, size: 1536, idx: 0, bvecDone: 1536 });
    const segs: [number, number, number][] = [];
    bioForEachSegment(bio, (page, off, len) => segs.push([page.pfn, off, len]));
    expect(segs).toEqual([
      [p0!.pfn, 2560, 512],
      [p1!.pfn, 0, 1024],
    ]);
    expect(bio.ioVec[0]!.offset).toBe(1024);
    expect(() => bioAdvance(bio, 4096)).toThrow(KernelBug);
  });
});

describe('bio_split + bio_chain + bio_endio', () => {
  test('the parent completes once, after its piece and itself, with the piece error', () => {
    const k = newKernel();
    const pages = ramPages(k, 4);
    const done: Bio[] = [];
    const bio = new Bio({ op: REQ_OP_WRITE, sector: 100, endIo: (b) => done.push(b) });
    for (const p of pages) bioAddPage(bio, p, PAGE_SIZE, 0);
    const front = bioSplit(bio, 8);
    bioChain(front, bio);
    expect(front.iter.sector).toBe(100);
    expect(bioSectors(front)).toBe(8);
    expect(front.ioVec).toBe(bio.ioVec);
    expect(front.cloned).toBe(true);
    expect(bioAddPage(front, pages[0]!, 512, 0)).toBe(0);
    expect(bio.iter.sector).toBe(108);
    expect(bioSectors(bio)).toBe(24);
    front.status = BLK_STS_MEDIUM;
    bioEndio(front);
    expect(done).toHaveLength(0);
    bioEndio(bio);
    expect(done).toEqual([bio]);
    expect(bio.status).toBe(BLK_STS_MEDIUM);
    expect(() => bioEndio(bio)).toThrow(/ended twice/);
  });

  test('a piece error does not overwrite an earlier parent error; bio_io_error sets IOERR', () => {
    const k = newKernel();
    const [p] = ramPages(k, 1);
    let calls = 0;
    const bio = new Bio({ op: REQ_OP_READ, endIo: () => calls++ });
    bioAddPage(bio, p!, PAGE_SIZE, 0);
    const front = bioSplit(bio, 4);
    bioChain(front, bio);
    bio.status = BLK_STS_MEDIUM;
    bioIoError(front);
    bioEndio(bio);
    expect(calls).toBe(1);
    expect(bio.status).toBe(BLK_STS_MEDIUM);
    expect(front.status).toBe(BLK_STS_IOERR);
  });

  test('split points outside the bio are bugs', () => {
    const k = newKernel();
    const [p] = ramPages(k, 1);
    const bio = new Bio({ op: REQ_OP_READ });
    bioAddPage(bio, p!, PAGE_SIZE, 0);
    expect(() => bioSplit(bio, 0)).toThrow(KernelBug);
    expect(() => bioSplit(bio, 8)).toThrow(KernelBug);
    expect(bio.status).toBe(BLK_STS_OK);
  });
});
