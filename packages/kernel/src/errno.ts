/**
 * Error numbers, exactly as the kernel numbers them.
 *
 * Kernel-API functions in this project return `0` on success and a negated errno on failure
 * (`KResult`), or a value/`null`. The values below are the kernel's: the generic UAPI table
 * (include/uapi/asm-generic/errno-base.h and errno.h, used by x86 and arm64) plus the few
 * kernel-internal codes from include/linux/errno.h that drivers return (`EPROBE_DEFER`,
 * `ENOTSUPP`, ...). Aliases (`EWOULDBLOCK`, `EDEADLOCK`) are left out so that every value has
 * exactly one name.
 *
 * @kernel include/uapi/asm-generic/errno-base.h, include/uapi/asm-generic/errno.h
 */

import { KernelBug } from './bug';

/**
 * Errno name → the kernel's positive value. Return `err('EINVAL')` (typed `-22`) from
 * kernel-API functions; compare with `ret === -Errno.EINVAL`.
 * @kernel EPERM … EHWPOISON, EPROBE_DEFER, ENOTSUPP
 */
export const Errno = {
  // include/uapi/asm-generic/errno-base.h
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  ENOTBLK: 15,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ETXTBSY: 26,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  EPIPE: 32,
  EDOM: 33,
  ERANGE: 34,
  // include/uapi/asm-generic/errno.h
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENOMSG: 42,
  EIDRM: 43,
  ECHRNG: 44,
  EL2NSYNC: 45,
  EL3HLT: 46,
  EL3RST: 47,
  ELNRNG: 48,
  EUNATCH: 49,
  ENOCSI: 50,
  EL2HLT: 51,
  EBADE: 52,
  EBADR: 53,
  EXFULL: 54,
  ENOANO: 55,
  EBADRQC: 56,
  EBADSLT: 57,
  EBFONT: 59,
  ENOSTR: 60,
  ENODATA: 61,
  ETIME: 62,
  ENOSR: 63,
  ENONET: 64,
  ENOPKG: 65,
  EREMOTE: 66,
  ENOLINK: 67,
  EADV: 68,
  ESRMNT: 69,
  ECOMM: 70,
  EPROTO: 71,
  EMULTIHOP: 72,
  EDOTDOT: 73,
  EBADMSG: 74,
  EOVERFLOW: 75,
  ENOTUNIQ: 76,
  EBADFD: 77,
  EREMCHG: 78,
  ELIBACC: 79,
  ELIBBAD: 80,
  ELIBSCN: 81,
  ELIBMAX: 82,
  ELIBEXEC: 83,
  EILSEQ: 84,
  ERESTART: 85,
  ESTRPIPE: 86,
  EUSERS: 87,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  ESOCKTNOSUPPORT: 94,
  EOPNOTSUPP: 95,
  EPFNOSUPPORT: 96,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ENETRESET: 102,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETOOMANYREFS: 109,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
  ESTALE: 116,
  EUCLEAN: 117,
  ENOTNAM: 118,
  ENAVAIL: 119,
  EISNAM: 120,
  EREMOTEIO: 121,
  EDQUOT: 122,
  ENOMEDIUM: 123,
  EMEDIUMTYPE: 124,
  ECANCELED: 125,
  ENOKEY: 126,
  EKEYEXPIRED: 127,
  EKEYREVOKED: 128,
  EKEYREJECTED: 129,
  EOWNERDEAD: 130,
  ENOTRECOVERABLE: 131,
  ERFKILL: 132,
  EHWPOISON: 133,
  // include/linux/errno.h (kernel-internal, never seen by user space)
  ERESTARTSYS: 512,
  ENOIOCTLCMD: 515,
  EPROBE_DEFER: 517,
  ENOTSUPP: 524,
} as const;

/** An errno name such as `'EINVAL'`. */
export type ErrnoName = keyof typeof Errno;

/** A positive errno value from the table (`22` for `EINVAL`). */
export type ErrnoValue = (typeof Errno)[ErrnoName];

/** The negation of a numeric literal type: `Negate<22>` is `-22`. */
export type Negate<V extends number> = `-${V}` extends `${infer N extends number}` ? N : never;

/** A negated errno value, as kernel functions return them (`-22` for `-EINVAL`). */
export type NegErrno = Negate<ErrnoValue>;

/**
 * The result of a kernel function that returns `0` on success or a negated errno.
 * @kernel int return convention
 */
export type KResult = 0 | NegErrno;

const NAME_BY_VALUE: ReadonlyMap<number, ErrnoName> = new Map(
  (Object.keys(Errno) as ErrnoName[]).map((name) => [Errno[name], name]),
);

/**
 * The negated errno for a name, typed as the literal (`err('EINVAL')` is `-22`), for returning
 * from functions typed `KResult` (TypeScript types `-Errno.EINVAL` as a plain `number`).
 * @param name the errno name.
 * @returns the negated value.
 */
export function err<N extends ErrnoName>(name: N): Negate<(typeof Errno)[N]> {
  return -Errno[name] as Negate<(typeof Errno)[N]>;
}

/**
 * The name of an errno value, positive or negated: `errnoName(22)` and `errnoName(-22)` are
 * `'EINVAL'`.
 * @param n the value.
 * @returns the name, or `null` when `n` is not in the table.
 */
export function errnoName(n: number): ErrnoName | null {
  return NAME_BY_VALUE.get(Math.abs(n)) ?? null;
}

/**
 * Whether a result is a negated errno from the table. Accepts any value, so it also narrows
 * unions such as `Uint8Array | NegErrno` (the kernel's `IS_ERR_VALUE` idea).
 * @param v the result to test.
 * @returns `true` for a negative number naming a known errno.
 * @kernel IS_ERR_VALUE
 */
export function isErr(v: unknown): v is NegErrno {
  return typeof v === 'number' && v < 0 && NAME_BY_VALUE.has(-v);
}

/**
 * Checks a number read from elsewhere (a device status, a callback) and types it as a
 * `NegErrno`.
 * @param n a negated errno value.
 * @returns `n`, typed.
 * @throws KernelBug when `n` is not a negated errno of the table: converting an arbitrary
 *   number is a model bug.
 */
export function toNegErrno(n: number): NegErrno {
  if (!isErr(n)) throw new KernelBug(`toNegErrno: ${n} is not a negated errno`);
  return n;
}

/**
 * Renders a result the way kernel messages and `strace` style output name it:
 * `errnoString(-22)` is `"-EINVAL"`, `errnoString(22)` is `"EINVAL"`, `0` is `"0"`, and an
 * unknown value is rendered as its decimal number.
 * @param n the value.
 * @returns the rendering.
 */
export function errnoString(n: number): string {
  const name = NAME_BY_VALUE.get(Math.abs(n));
  if (name === undefined) return String(n);
  return n < 0 ? `-${name}` : name;
}
