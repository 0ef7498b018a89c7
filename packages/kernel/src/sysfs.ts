/**
 * sysfs: the `/sys` tree of kobject directories, attribute files and symlinks.
 *
 * Each kernel has one (`kernel.sysfs`). The layout kept is deliberately small:
 * - `/sys/devices/<parent chain>/<device>`: one directory per registered device, created by
 *   `deviceAdd` and removed (with everything in it) by `deviceDel`. The chain is the device's
 *   parents (`devPath`), e.g. `/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0`.
 * - `/sys/bus/<bus>/devices/<device>`: a symlink to that directory for devices on a bus.
 * - `/sys/class/<class>/<device>`: a symlink for devices with a class name.
 * - `/sys/kernel`: empty, for subsystems to add to.
 * Drivers add attributes with `sysfsCreateFile` or attribute groups (`sysfsCreateGroup`, e.g.
 * p2pdma's `p2pmem/` group). User space reads and writes files by path (`read`, `write`), which
 * follow symlinks, and gets the kernel's errors: `-ENOENT` for a missing path, `-EISDIR` for a
 * directory, `-EACCES` for a file whose mode forbids the access, `-EIO` for a permitted access
 * with no show/store. (A write to a missing file is `-ENOENT`: the model opens without
 * `O_CREAT`.)
 *
 * @kernel fs/sysfs/{dir,file,group,symlink}.c, fs/kernfs, lib/kobject.c
 */
import { KernelBug } from './bug';
import type { Device } from './device';
import type { KResult, NegErrno } from './errno';
import { err } from './errno';
import type { FaultInjector } from './fault-inject';
import { FAULT_SYSFS_CREATE_GROUP } from './fault-inject';
import type { KernelLog } from './log';
import { KERN_WARNING } from './log';

/** Readable by everyone (`S_IRUGO`). */
export const SYSFS_MODE_RO = 0o444;
/** Read by everyone, written by root (`S_IRUGO | S_IWUSR`, `DEVICE_ATTR_RW`). */
export const SYSFS_MODE_RW = 0o644;
/** Written by root only (`S_IWUSR`, `DEVICE_ATTR_WO`). */
export const SYSFS_MODE_WO = 0o200;
/** Any read permission bit. @kernel S_IRUGO */
export const S_IRUGO = 0o444;
/** Any write permission bit. @kernel S_IWUGO */
export const S_IWUGO = 0o222;

/**
 * A sysfs attribute (one file).
 * @kernel struct attribute + device_attribute show/store
 */
export interface SysfsAttribute {
  /** File name. */
  readonly name: string;
  /** Permission bits (`0o444`, `0o644`, `0o200`); never world-writable. */
  readonly mode: number;
  /**
   * Renders the file's contents (conventionally newline-terminated).
   * @returns the text, or a negated errno for a failed read.
   */
  show?(): string | NegErrno;
  /**
   * Accepts a write.
   * @param value the bytes written, as text (a trailing newline included, as `echo` sends it).
   * @returns bytes consumed (normally `value.length`), or a negated errno.
   */
  store?(value: string): number | NegErrno;
}

/**
 * A set of attributes created and removed together, in a subdirectory when named.
 * @kernel struct attribute_group
 */
export interface AttributeGroup {
  /** Subdirectory name (`'p2pmem'`); omitted: the files go into the kobject's own directory. */
  readonly name?: string;
  /** The attributes. */
  readonly attrs: readonly SysfsAttribute[];
}

interface AttrNode {
  readonly kind: 'attr';
  readonly name: string;
  readonly attr: SysfsAttribute;
  readonly group: AttributeGroup | null;
}

interface LinkNode {
  readonly kind: 'link';
  readonly name: string;
  /** Absolute target path (`/sys/devices/...`). */
  readonly target: string;
}

type SysfsNode = Kobject | AttrNode | LinkNode;

/**
 * A sysfs directory: a kobject's, or an attribute group's subdirectory.
 * @kernel struct kobject (its kernfs_node directory)
 */
export class Kobject {
  readonly kind = 'dir' as const;
  /** @internal entries by name. */
  readonly children = new Map<string, SysfsNode>();
  private gone = false;

  /**
   * @param sysfs the tree it belongs to.
   * @param name directory name.
   * @param parent the containing directory (`null` for `/sys`).
   * @param group the attribute group it holds, when it is a group directory.
   * @internal created by `Sysfs` and `sysfsCreateGroup` only.
   */
  constructor(
    readonly sysfs: Sysfs,
    readonly name: string,
    readonly parent: Kobject | null,
    readonly group: AttributeGroup | null = null,
  ) {}

  /** Whether the directory was removed. */
  get removed(): boolean {
    return this.gone;
  }

  /** Absolute path (`/sys/devices/pci0000:00`). */
  path(): string {
    if (this.parent === null) return '/sys';
    return `${this.parent.path()}/${this.name}`;
  }

  /** The path as kernfs prints it in messages: relative to `/sys`, with a leading `/`. */
  kernfsPath(): string {
    return this.path().slice('/sys'.length);
  }

  /** @internal marks this directory and everything below it removed. */
  markRemoved(): void {
    this.gone = true;
    for (const c of this.children.values()) if (c.kind === 'dir') c.markRemoved();
  }
}

const NAME_RE = /^[^/\0]+$/;

function checkAttr(attr: SysfsAttribute, fn: string): void {
  if (!NAME_RE.test(attr.name) || attr.name === '.' || attr.name === '..') throw new KernelBug(`${fn}: bad attribute name ${JSON.stringify(attr.name)}`);
  if (!Number.isInteger(attr.mode) || attr.mode < 0 || attr.mode > 0o777 || (attr.mode & 0o002) !== 0) {
    throw new KernelBug(`${fn}: attribute ${attr.name}: mode 0${attr.mode.toString(8)} is not a non world-writable permission`);
  }
}

const MAX_LINK_HOPS = 40;

/**
 * A kernel's sysfs tree (`kernel.sysfs`).
 * @kernel sysfs_root
 */
export class Sysfs {
  /** `/sys`. */
  readonly root: Kobject;
  /** `/sys/devices`. */
  readonly devicesDir: Kobject;
  /** `/sys/bus`. */
  readonly busDir: Kobject;
  /** `/sys/class`. */
  readonly classDir: Kobject;
  /** `/sys/kernel`. */
  readonly kernelDir: Kobject;
  private readonly devKobjs = new Map<Device, Kobject>();

  /**
   * @param log where duplicate-name and missing-group warnings go.
   * @param faults the kernel's fault injector (`FAULT_SYSFS_CREATE_GROUP`).
   */
  constructor(
    readonly log: KernelLog,
    readonly faults: FaultInjector,
  ) {
    this.root = new Kobject(this, '', null);
    this.devicesDir = this.mkdirIn(this.root, 'devices');
    this.busDir = this.mkdirIn(this.root, 'bus');
    this.classDir = this.mkdirIn(this.root, 'class');
    this.kernelDir = this.mkdirIn(this.root, 'kernel');
  }

  /**
   * Creates a kobject directory.
   * @param parent the containing directory (live).
   * @param name the directory name.
   * @returns the directory, `-EEXIST` when the name is taken (logged as sysfs does), or
   *   `-EINVAL` for a removed parent or a bad name.
   * @kernel kobject_add / sysfs_create_dir_ns
   */
  kobjectAdd(parent: Kobject, name: string): Kobject | NegErrno {
    if (parent.removed || !NAME_RE.test(name) || name === '.' || name === '..') return err('EINVAL');
    if (parent.children.has(name)) {
      this.warnDup(parent, name);
      return err('EEXIST');
    }
    return this.mkdirIn(parent, name);
  }

  /**
   * Removes a kobject directory with everything in it.
   * @param kobj the directory; nothing happens when already removed.
   * @kernel kobject_del
   */
  kobjectDel(kobj: Kobject): void {
    if (kobj.removed || kobj.parent === null) return;
    if (kobj.parent.children.get(kobj.name) === kobj) kobj.parent.children.delete(kobj.name);
    kobj.markRemoved();
  }

  /**
   * The directory of a registered device.
   * @param dev the device.
   * @returns its kobject, or `null` when it has none (not registered).
   */
  deviceKobj(dev: Device): Kobject | null {
    return this.devKobjs.get(dev) ?? null;
  }

  /**
   * The directory at a path (symlinks followed).
   * @param path an absolute `/sys/...` path.
   * @returns the directory, or `null` when the path is missing or not a directory.
   */
  findDir(path: string): Kobject | null {
    const n = this.resolve(path, true);
    return typeof n === 'number' || n.kind !== 'dir' ? null : n;
  }

  /**
   * Reads a file.
   * @param path an absolute `/sys/...` path (symlinks followed).
   * @returns the contents; `-ENOENT` (missing), `-ENOTDIR` (a file used as a directory),
   *   `-EISDIR`, `-EACCES` (mode has no read bit), `-EIO` (no show), `-ELOOP`, or the errno
   *   `show` returned.
   * @kernel read(2) on sysfs (kernfs_fop_open + sysfs_kf_seq_show)
   */
  read(path: string): string | NegErrno {
    const n = this.resolve(path, true);
    if (typeof n === 'number') return n;
    if (n.kind !== 'attr') return err('EISDIR');
    if ((n.attr.mode & S_IRUGO) === 0) return err('EACCES');
    if (n.attr.show === undefined) return err('EIO');
    return n.attr.show();
  }

  /**
   * Writes a file.
   * @param path an absolute `/sys/...` path (symlinks followed).
   * @param value the text written.
   * @returns what `store` returns (bytes consumed or a negated errno); `-ENOENT`, `-ENOTDIR`,
   *   `-EISDIR`, `-EACCES` (mode has no write bit), `-EIO` (no store), `-ELOOP`.
   * @kernel write(2) on sysfs (kernfs_fop_open + sysfs_kf_write)
   */
  write(path: string, value: string): number | NegErrno {
    const n = this.resolve(path, true);
    if (typeof n === 'number') return n;
    if (n.kind !== 'attr') return err('EISDIR');
    if ((n.attr.mode & S_IWUGO) === 0) return err('EACCES');
    if (n.attr.store === undefined) return err('EIO');
    return n.attr.store(value);
  }

  /**
   * Lists a directory.
   * @param path an absolute `/sys/...` path (symlinks followed).
   * @returns entry names sorted as `ls` shows them; `-ENOENT`, `-ENOTDIR`, `-ELOOP`.
   * @kernel getdents(2) on sysfs
   */
  list(path: string): string[] | NegErrno {
    const n = this.resolve(path, true);
    if (typeof n === 'number') return n;
    if (n.kind !== 'dir') return err('ENOTDIR');
    return [...n.children.keys()].sort();
  }

  /**
   * Reads a symlink.
   * @param path the link's path (its own directory's symlinks followed, not the link).
   * @returns the relative target as `readlink` prints it (`../../../devices/...`); `-ENOENT`,
   *   `-EINVAL` when the path is not a symlink.
   * @kernel readlink(2) on sysfs
   */
  readlink(path: string): string | NegErrno {
    const n = this.resolve(path, false);
    if (typeof n === 'number') return n;
    if (n.kind !== 'link') return err('EINVAL');
    const parentPath = path.replace(/\/+$/, '').split('/').slice(0, -1).join('/');
    const from = this.findDir(parentPath);
    return relativePath(from === null ? parentPath : from.path(), n.target);
  }

  /**
   * @param path an absolute path.
   * @returns whether it resolves (symlinks followed).
   */
  exists(path: string): boolean {
    return typeof this.resolve(path, true) !== 'number';
  }

  /** @internal `deviceAdd`: the device's directory and its bus/class links. */
  deviceAdded(dev: Device): void {
    const parent = dev.parent === null ? this.devicesDir : (this.devKobjs.get(dev.parent) ?? this.devicesDir);
    const kobj = this.kobjectAdd(parent, dev.name);
    if (typeof kobj === 'number') return;
    this.devKobjs.set(dev, kobj);
    if (dev.bus !== null) this.addLink(this.ensureDir([this.busDir, dev.bus.name, 'devices']), dev.name, kobj.path());
    if (dev.className !== null) this.addLink(this.ensureDir([this.classDir, dev.className]), dev.name, kobj.path());
  }

  /** @internal `deviceDel`: removes the links and the directory. */
  deviceRemoved(dev: Device): void {
    const kobj = this.devKobjs.get(dev);
    if (kobj === undefined) return;
    if (dev.bus !== null) this.removeLinkTo(`/sys/bus/${dev.bus.name}/devices/${dev.name}`, kobj);
    if (dev.className !== null) this.removeLinkTo(`/sys/class/${dev.className}/${dev.name}`, kobj);
    this.kobjectDel(kobj);
    this.devKobjs.delete(dev);
  }

  /** @internal logs the kernel's duplicate-name warning for `name` in `dir`. */
  warnDup(dir: Kobject, name: string): void {
    this.log.printk(KERN_WARNING, `sysfs: cannot create duplicate filename '${dir.kernfsPath()}/${name}'`);
  }

  /** @internal creates a directory (the name is known to be free). */
  mkdirIn(parent: Kobject, name: string, group: AttributeGroup | null = null): Kobject {
    const d = new Kobject(this, name, parent, group);
    parent.children.set(name, d);
    return d;
  }

  /** @internal adds a symlink (the name is known to be free). */
  addLink(dir: Kobject, name: string, target: string): void {
    dir.children.set(name, { kind: 'link', name, target });
  }

  private removeLinkTo(path: string, kobj: Kobject): void {
    const parts = path.split('/');
    const name = parts.pop()!;
    const dir = this.findDir(parts.join('/'));
    const n = dir?.children.get(name);
    if (dir !== null && n !== undefined && n.kind === 'link' && n.target === kobj.path()) dir.children.delete(name);
  }

  private ensureDir(path: [Kobject, ...string[]]): Kobject {
    let d = path[0];
    for (const name of path.slice(1) as string[]) {
      const c = d.children.get(name);
      d = c !== undefined && c.kind === 'dir' ? c : this.mkdirIn(d, name);
    }
    return d;
  }

  /** Resolves an absolute `/sys` path. */
  private resolve(path: string, followLast: boolean, hops = 0): SysfsNode | NegErrno {
    const comps = path.split('/').filter((c) => c !== '');
    if (!path.startsWith('/') || comps[0] !== 'sys') return err('ENOENT');
    let dir = this.root;
    for (let i = 1; i < comps.length; i++) {
      const c = comps[i]!;
      const last = i === comps.length - 1;
      let node: SysfsNode;
      if (c === '.') node = dir;
      else if (c === '..') node = dir.parent ?? dir;
      else {
        const child = dir.children.get(c);
        if (child === undefined) return err('ENOENT');
        node = child;
      }
      if (node.kind === 'link' && (!last || followLast)) {
        if (hops >= MAX_LINK_HOPS) return err('ELOOP');
        const t = this.resolve(node.target, true, hops + 1);
        if (typeof t === 'number') return t;
        node = t;
      }
      if (last) return node;
      if (node.kind !== 'dir') return err('ENOTDIR');
      dir = node;
    }
    return dir;
  }
}

/** `to` relative to directory `from` (both absolute, normalized). */
function relativePath(from: string, to: string): string {
  const a = from.split('/').filter((c) => c !== '');
  const b = to.split('/').filter((c) => c !== '');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/') || '.';
}

/**
 * Creates a group of attributes on a kobject. All-or-nothing: on failure nothing this call
 * created remains (the kernel's rollback removes the group's files by name, which would also
 * delete a pre-existing file of the same name; the model removes only what it created).
 * @param kobj the kobject (a device's, from `sysfs.deviceKobj`).
 * @param grp the group.
 * @returns `0`; `-EEXIST` when the group directory or one of its files already exists (logged
 *   as `sysfs: cannot create duplicate filename '…'`); `-EINVAL` for a removed kobject; or the
 *   errno of fault site `FAULT_SYSFS_CREATE_GROUP`, which fails the last attribute's creation
 *   (after the directory and every earlier file were created, so the rollback is exercised).
 * @throws KernelBug for a bad attribute name or mode (a compile-time error in the kernel).
 * @kernel sysfs_create_group
 */
export function sysfsCreateGroup(kobj: Kobject, grp: AttributeGroup): KResult {
  for (const a of grp.attrs) checkAttr(a, 'sysfs_create_group');
  if (kobj.removed) return err('EINVAL');
  const fs = kobj.sysfs;
  let dir = kobj;
  if (grp.name !== undefined) {
    if (kobj.children.has(grp.name)) {
      fs.warnDup(kobj, grp.name);
      return err('EEXIST');
    }
    dir = fs.mkdirIn(kobj, grp.name, grp);
  }
  const injected = fs.faults.shouldFail(FAULT_SYSFS_CREATE_GROUP);
  const failAt = injected === 0 ? -1 : Math.max(grp.attrs.length - 1, 0);
  const created: string[] = [];
  let error: KResult = 0;
  for (let i = 0; i <= grp.attrs.length; i++) {
    if (i === failAt && injected !== 0) {
      error = injected;
      break;
    }
    const a = grp.attrs[i];
    if (a === undefined) break;
    if (dir.children.has(a.name)) {
      fs.warnDup(dir, a.name);
      error = err('EEXIST');
      break;
    }
    dir.children.set(a.name, { kind: 'attr', name: a.name, attr: a, group: grp });
    created.push(a.name);
  }
  if (error !== 0) {
    if (grp.name !== undefined) fs.kobjectDel(dir);
    else for (const n of created) dir.children.delete(n);
  }
  return error;
}

/**
 * Removes a group created by `sysfsCreateGroup`.
 * @param kobj the kobject.
 * @param grp the same group.
 * @kernel sysfs_remove_group (a missing named group is warned about:
 *   `sysfs group '<name>' not found for kobject '<kobj>'`)
 */
export function sysfsRemoveGroup(kobj: Kobject, grp: AttributeGroup): void {
  if (grp.name !== undefined) {
    const d = kobj.children.get(grp.name);
    if (d === undefined || d.kind !== 'dir') {
      kobj.sysfs.log.printk(KERN_WARNING, `sysfs group '${grp.name}' not found for kobject '${kobj.name}'`);
      return;
    }
    kobj.sysfs.kobjectDel(d);
    return;
  }
  for (const a of grp.attrs) {
    const n = kobj.children.get(a.name);
    if (n !== undefined && n.kind === 'attr' && n.group === grp) kobj.children.delete(a.name);
  }
}

/**
 * Creates one attribute file in a kobject's directory.
 * @param kobj the kobject.
 * @param attr the attribute.
 * @returns `0`, `-EEXIST` (logged), or `-EINVAL` for a removed kobject.
 * @throws KernelBug for a bad name or mode.
 * @kernel sysfs_create_file / device_create_file
 */
export function sysfsCreateFile(kobj: Kobject, attr: SysfsAttribute): KResult {
  checkAttr(attr, 'sysfs_create_file');
  if (kobj.removed) return err('EINVAL');
  if (kobj.children.has(attr.name)) {
    kobj.sysfs.warnDup(kobj, attr.name);
    return err('EEXIST');
  }
  kobj.children.set(attr.name, { kind: 'attr', name: attr.name, attr, group: null });
  return 0;
}

/**
 * Removes an attribute file created by `sysfsCreateFile` (nothing happens when absent).
 * @param kobj the kobject.
 * @param attr the attribute.
 * @kernel sysfs_remove_file / device_remove_file
 */
export function sysfsRemoveFile(kobj: Kobject, attr: SysfsAttribute): void {
  const n = kobj.children.get(attr.name);
  if (n !== undefined && n.kind === 'attr' && n.attr === attr) kobj.children.delete(attr.name);
}

/**
 * Creates a symlink `name` in `kobj` pointing at `target`.
 * @param kobj where the link goes.
 * @param target the directory linked to.
 * @param name the link name.
 * @returns `0`, `-EEXIST` (logged), or `-EINVAL` for a removed directory or bad name.
 * @kernel sysfs_create_link
 */
export function sysfsCreateLink(kobj: Kobject, target: Kobject, name: string): KResult {
  if (kobj.removed || target.removed || !NAME_RE.test(name)) return err('EINVAL');
  if (kobj.children.has(name)) {
    kobj.sysfs.warnDup(kobj, name);
    return err('EEXIST');
  }
  kobj.sysfs.addLink(kobj, name, target.path());
  return 0;
}

/**
 * Removes a symlink (nothing happens when absent).
 * @param kobj the directory holding it.
 * @param name the link name.
 * @kernel sysfs_remove_link
 */
export function sysfsRemoveLink(kobj: Kobject, name: string): void {
  const n = kobj.children.get(name);
  if (n !== undefined && n.kind === 'link') kobj.children.delete(name);
}
