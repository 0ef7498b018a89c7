/**
 * The flush machinery (4.16 block/blk-flush.c): blk_flush_policy and the PREFLUSH → DATA →
 * POSTFLUSH sequence on queues with a volatile write cache, with and without native FUA.
 */
import { describe, expect, test } from 'vitest';
import {
  Bio,
  BLK_STS_IOERR,
  BLK_STS_OK,
  blkFlushPolicy,
  blkMqEndRequest,
  blkQueueWriteCache,
  REQ_FSEQ_DATA,
  REQ_FSEQ_POSTFLUSH,
  REQ_FSEQ_PREFLUSH,
  REQ_FUA,
  REQ_OP_FLUSH,
  REQ_OP_WRITE,
  QUEUE_FLAG_FUA,
  QUEUE_FLAG_WC,
  REQ_PREFLUSH,
  Request,
  submitBio,
} from '../src/index';
import { dataBio, newKernel, ramPages, recorder } from './helpers';

function setup(wc: boolean, fua: boolean) {
  const k = newKernel();
  const rec = recorder(k, { completion: 'manual' });
  blkQueueWriteCache(rec.q, wc, fua);
  const [page] = ramPages(k, 1);
  return { k, rec, page: page! };
}

function ops(rec: ReturnType<typeof recorder>): string[] {
  return rec.seen.map((s) => (s.op === REQ_OP_FLUSH ? 'FLUSH' : (s.cmdFlags & REQ_FUA) !== 0 ? 'WRITE+FUA' : 'WRITE'));
}

/** Completes held requests one by one, reporting whether the bio had ended after each. */
function drain(rec: ReturnType<typeof recorder>, bio: Bio): boolean[] {
  const out: boolean[] = [];
  while (rec.held.length > 0) {
    blkMqEndRequest(rec.held.shift()!, BLK_STS_OK);
    out.push(bio.ended);
  }
  return out;
}

describe('blk_insert_flush', () => {
  test('FUA without native FUA support: the data goes without FUA, then a post-flush; the bio ends after it', () => {
    const { rec, page } = setup(true, false);
    const bio = dataBio(rec.disk, REQ_OP_WRITE, 0, [{ page }], REQ_FUA);
    submitBio(bio);
    expect(drain(rec, bio)).toEqual([false, true]);
    expect(ops(rec)).toEqual(['WRITE', 'FLUSH']);
    expect(bio.status).toBe(BLK_STS_OK);
  });

  test('PREFLUSH|FUA without native FUA: flush, data, flush', () => {
    const { rec, page } = setup(true, false);
    const bio = dataBio(rec.disk, REQ_OP_WRITE, 0, [{ page }], REQ_FUA | REQ_PREFLUSH);
    submitBio(bio);
    expect(drain(rec, bio)).toEqual([false, false, true]);
    expect(ops(rec)).toEqual(['FLUSH', 'WRITE', 'FLUSH']);
  });

  test('native FUA: only the data request, still carrying FUA', () => {
    const { rec, page } = setup(true, true);
    const bio = dataBio(rec.disk, REQ_OP_WRITE, 0, [{ page }], REQ_FUA);
    submitBio(bio);
    expect(drain(rec, bio)).toEqual([true]);
    expect(ops(rec)).toEqual(['WRITE+FUA']);
  });

  test('an empty PREFLUSH bio on a write-back queue becomes one FLUSH request', () => {
    const { rec } = setup(true, false);
    const bio = new Bio({ disk: rec.disk, op: REQ_OP_WRITE, flags: REQ_PREFLUSH });
    submitBio(bio);
    expect(drain(rec, bio)).toEqual([true]);
    expect(ops(rec)).toEqual(['FLUSH']);
    expect(rec.seen[0]!.cmdFlags & REQ_PREFLUSH).toBe(REQ_PREFLUSH);
  });

  test('a failing pre-flush ends the bio with its status; the data is never issued', () => {
    const { k, rec, page } = setup(true, true);
    const bio = dataBio(rec.disk, REQ_OP_WRITE, 64, [{ page }], REQ_PREFLUSH);
    submitBio(bio);
    blkMqEndRequest(rec.held.shift()!, BLK_STS_IOERR);
    expect(bio.status).toBe(BLK_STS_IOERR);
    expect(ops(rec)).toEqual(['FLUSH']);
    expect(rec.held).toHaveLength(0);
    expect(k.log.grep('print_req_error').map((l) => l.text)).toEqual(['print_req_error: I/O error, dev rec0, sector 0']);
  });

  test('blk_flush_policy reads the request and the queue flags', () => {
    const { rec } = setup(false, false);
    const rq = new Request(rec.q, rec.q.hctxs[0]!, 999, REQ_OP_WRITE | REQ_PREFLUSH | REQ_FUA, rec.disk);
    rq.dataLen = 4096;
    const wc = 1 << QUEUE_FLAG_WC;
    const fua = 1 << QUEUE_FLAG_FUA;
    expect(blkFlushPolicy(wc, rq)).toBe(REQ_FSEQ_PREFLUSH | REQ_FSEQ_DATA | REQ_FSEQ_POSTFLUSH);
    expect(blkFlushPolicy(wc | fua, rq)).toBe(REQ_FSEQ_PREFLUSH | REQ_FSEQ_DATA);
    expect(blkFlushPolicy(0, rq)).toBe(REQ_FSEQ_DATA);
    rq.dataLen = 0;
    expect(blkFlushPolicy(0, rq)).toBe(0);
    expect([REQ_FSEQ_PREFLUSH, REQ_FSEQ_DATA, REQ_FSEQ_POSTFLUSH]).toEqual([1, 2, 4]);
  });
});
