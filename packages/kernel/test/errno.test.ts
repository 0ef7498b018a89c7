import { describe, expect, it } from 'vitest';
import { Errno, err, errnoName, errnoString, isErr, KernelBug, toNegErrno } from '../src/index';

describe('errno table (include/uapi/asm-generic/errno-base.h, errno.h, include/linux/errno.h)', () => {
  // The kernel's numbers, transcribed independently of src/errno.ts.
  const kernel: Record<string, number> = {
    EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9,
    ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, ENOTBLK: 15, EBUSY: 16, EEXIST: 17,
    EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25,
    ETXTBSY: 26, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, EROFS: 30, EMLINK: 31, EPIPE: 32, EDOM: 33,
    ERANGE: 34, EDEADLK: 35, ENAMETOOLONG: 36, ENOLCK: 37, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40,
    ENOMSG: 42, ENODATA: 61, ETIME: 62, ENOLINK: 67, EPROTO: 71, EBADMSG: 74, EOVERFLOW: 75,
    EILSEQ: 84, EOPNOTSUPP: 95, EADDRINUSE: 98, EADDRNOTAVAIL: 99, ENETUNREACH: 101,
    ECONNRESET: 104, ENOBUFS: 105, ENOTCONN: 107, ETIMEDOUT: 110, ECONNREFUSED: 111,
    EHOSTUNREACH: 113, EALREADY: 114, EINPROGRESS: 115, ESTALE: 116, EREMOTEIO: 121, EDQUOT: 122,
    ENOMEDIUM: 123, ECANCELED: 125, EHWPOISON: 133, ERESTARTSYS: 512, EPROBE_DEFER: 517,
    ENOTSUPP: 524,
  };

  it('has the kernel value for every errno the model uses', () => {
    for (const [name, value] of Object.entries(kernel)) {
      expect(Errno[name as keyof typeof Errno], name).toBe(value);
    }
  });

  it('covers errno-base.h completely (1..34) and errno.h (35..133 minus the 41 and 58 holes)', () => {
    const values = new Set<number>(Object.values(Errno));
    for (let v = 1; v <= 133; v++) {
      if (v === 41 || v === 58) expect(values.has(v)).toBe(false);
      else expect(values.has(v), `errno ${v}`).toBe(true);
    }
  });

  it('gives every value exactly one name (aliases EWOULDBLOCK/EDEADLOCK left out)', () => {
    const values = Object.values(Errno);
    expect(new Set(values).size).toBe(values.length);
    expect('EWOULDBLOCK' in Errno).toBe(false);
  });

  it('names values positive or negated, and renders -EINVAL like kernel messages', () => {
    expect(errnoName(22)).toBe('EINVAL');
    expect(errnoName(-22)).toBe('EINVAL');
    expect(errnoName(-517)).toBe('EPROBE_DEFER');
    expect(errnoName(41)).toBeNull();
    expect(errnoString(-22)).toBe('-EINVAL');
    expect(errnoString(-Errno.EREMOTEIO)).toBe('-EREMOTEIO');
    expect(errnoString(12)).toBe('ENOMEM');
    expect(errnoString(0)).toBe('0');
    expect(errnoString(-9999)).toBe('-9999');
  });

  it('err() returns the negated value and isErr() recognises only table errnos', () => {
    const e: -22 = err('EINVAL');
    expect(e).toBe(-22);
    expect(err('EFAULT')).toBe(-14);
    expect(isErr(-22)).toBe(true);
    expect(isErr(0)).toBe(false);
    expect(isErr(22)).toBe(false);
    expect(isErr(-41)).toBe(false);
    expect(isErr(new Uint8Array(2))).toBe(false);
    expect(isErr('-22')).toBe(false);
  });

  it('toNegErrno checks dynamic values and treats garbage as a model bug', () => {
    expect(toNegErrno(-5)).toBe(-Errno.EIO);
    expect(() => toNegErrno(5)).toThrow(KernelBug);
    expect(() => toNegErrno(-41)).toThrow('toNegErrno: -41 is not a negated errno');
  });
});
