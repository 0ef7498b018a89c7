/**
 * configfs: the user-driven configuration tree under `/sys/kernel/config`, where user space
 * creates kernel objects with `mkdir`, sets them up through attribute files, connects them with
 * symlinks, and destroys them with `rmdir` (nvmet's ports, subsystems, namespaces and hosts).
 *
 * Each kernel has one (`kernel.configfs`). A subsystem registers a root `ConfigGroup`; what can
 * be created under a group, which attributes an item has, and which symlinks it accepts are
 * given by its `ConfigItemType` (the kernel's `config_item_type` with its group and item ops).
 * Path operations return the kernel's errors:
 * - `mkdir`: `-ENOENT` (parent missing), `-ENOTDIR`, `-EEXIST`, `-EPERM` (in the configfs root,
 *   under a non-group item, or a type without `makeGroup`/`makeItem`), `-ENOMEM` (make returned
 *   `null`), or the make callback's errno.
 * - `rmdir`: `-ENOENT`, `-ENOTDIR` (a file or symlink), `-EPERM` (a subsystem root or a default
 *   group), `-EBUSY` (a symlink points at it or at one of its default groups; also the configfs
 *   root itself), `-ENOTEMPTY` (it holds items it did not create by default, or symlinks).
 * - `symlink`: `-ENOENT`, `-ENOTDIR`, `-EEXIST`, `-EPERM` (the directory's type has no
 *   `allowLink`, or the target is outside configfs), or `allowLink`'s errno.
 * - `unlink`: `-ENOENT`, `-EISDIR` (a directory), `-EPERM` (an attribute file).
 * - `read`/`write`: `-ENOENT`, `-EISDIR`, `-EACCES` (no show/store, or the mode forbids it; the
 *   kernel refuses at open time), or the show/store callback's errno.
 * - every path operation: `-EINVAL` for a path with a NUL byte (`CONFIGFS_PATH_NUL_ERRNO`).
 *
 * Names: a path reaches the kernel as a C string, so it cannot carry a NUL byte (the kernel would
 * see the path cut short there); user-space libraries refuse such a path before the system call
 * (Python's `ValueError: embedded null byte`, Node's `ERR_INVALID_ARG_VALUE`). The model refuses
 * it with `-EINVAL`: a modelling choice, there is no kernel errno for it. A `/` is never part of
 * a name: it separates components, and the VFS walks to the parent the path names (`mkdir
 * .../hosts/a/b` is a `mkdir` of `b` in `hosts/a`: `-ENOENT` when `a` does not exist). So a
 * make callback never receives a name `ConfigItem` would refuse.
 *
 * @kernel fs/configfs/{dir,file,symlink,item}.c, include/linux/configfs.h
 */
import { KernelBug } from './bug';
import type { KResult, NegErrno } from './errno';
import { err, isErr } from './errno';
import type { KernelLog } from './log';

/** The configfs mount point. */
export const CONFIGFS_ROOT = '/sys/kernel/config';

/**
 * The errno of a path operation whose path contains a NUL byte (a modelling choice: such a path
 * cannot reach the kernel; see the module comment).
 */
export const CONFIGFS_PATH_NUL_ERRNO: NegErrno = err('EINVAL');

const NUL = '\u0000';

/**
 * A configfs attribute (one file in every item of a type).
 * @kernel struct configfs_attribute
 */
export interface ConfigAttribute {
  /** File name. */
  readonly name: string;
  /**
   * Permission bits. Default: `0o644` with show and store, `0o444` show only, `0o200` store only
   * (the `CONFIGFS_ATTR`, `_RO`, `_WO` macros).
   */
  readonly mode?: number;
  /**
   * Renders the file for an item.
   * @returns the text or a negated errno.
   */
  show?(item: ConfigItem): string | NegErrno;
  /**
   * Accepts a write for an item.
   * @returns bytes consumed (normally `value.length`) or a negated errno.
   */
  store?(item: ConfigItem, value: string): number | NegErrno;
}

/**
 * What an item is: its attributes and the operations configfs calls on it.
 * @kernel struct config_item_type + configfs_group_operations + configfs_item_operations
 */
export interface ConfigItemType {
  /** Type name, for messages. */
  readonly name?: string;
  /** The attribute files of every item of this type. */
  readonly attrs?: readonly ConfigAttribute[];
  /**
   * `mkdir` of `name` in a group of this type. Return a new group named `name`, an errno to
   * refuse, or `null` for "out of memory".
   * @kernel configfs_group_operations.make_group
   */
  makeGroup?(parent: ConfigGroup, name: string): ConfigGroup | NegErrno | null;
  /**
   * As `makeGroup`, for leaf items (used only when `makeGroup` is absent).
   * @kernel configfs_group_operations.make_item
   */
  makeItem?(parent: ConfigGroup, name: string): ConfigItem | NegErrno | null;
  /**
   * An item made under a group of this type was removed by `rmdir` (after `disconnectNotify`).
   * @kernel configfs_group_operations.drop_item
   */
  dropItem?(parent: ConfigGroup, item: ConfigItem): void;
  /**
   * An item is about to be dropped (still in the hierarchy).
   * @kernel configfs_group_operations.disconnect_notify
   */
  disconnectNotify?(parent: ConfigGroup, item: ConfigItem): void;
  /**
   * A symlink to `target` is being created in an item of this type.
   * @returns `0` to allow, or a negated errno.
   * @kernel configfs_item_operations.allow_link
   */
  allowLink?(src: ConfigItem, target: ConfigItem): KResult;
  /**
   * A symlink to `target` in an item of this type is being removed.
   * @kernel configfs_item_operations.drop_link
   */
  dropLink?(src: ConfigItem, target: ConfigItem): void;
  /**
   * The item is gone (the last reference was dropped after `rmdir`).
   * @kernel configfs_item_operations.release
   */
  release?(item: ConfigItem): void;
}

type Entry = { readonly kind: 'item'; readonly item: ConfigItem; readonly isDefault: boolean } | { readonly kind: 'link'; readonly target: ConfigItem };

/**
 * A configfs item: a directory holding its type's attributes.
 * @kernel struct config_item (config_item_init_type_name)
 */
export class ConfigItem {
  /** The containing group while attached, else `null`. */
  parent: ConfigGroup | null = null;
  /** Driver data (the kernel embeds the item in the driver's structure). */
  data: unknown = null;
  /** @internal sub-items (groups only) and symlinks, by name. */
  readonly entries = new Map<string, Entry>();
  /** @internal number of symlinks pointing at this item. */
  linkCount = 0;
  /** @internal whether the item is in the tree. */
  attached = false;

  /**
   * @param name the directory name.
   * @param type its type.
   * @throws KernelBug for a name that is empty, `.`/`..` or contains `/` or a NUL byte: a driver
   *   bug (configfs path operations never pass such a name to a make callback).
   */
  constructor(
    readonly name: string,
    readonly type: ConfigItemType,
  ) {
    if (!/^[^/\0]+$/.test(name) || name === '.' || name === '..') throw new KernelBug(`config_item: bad name ${JSON.stringify(name)}`);
  }

  /** The item's absolute path, or `null` when it is not in the tree. */
  path(): string | null {
    if (!this.attached) return null;
    if (this.parent === null) return CONFIGFS_ROOT;
    return `${this.parent.path()}/${this.name}`;
  }

  /** The names of the symlinks in this item's directory. */
  links(): string[] {
    return [...this.entries].filter(([, e]) => e.kind === 'link').map(([n]) => n);
  }

  /** The targets of the symlinks in this item's directory, by link name. */
  linkTargets(): Map<string, ConfigItem> {
    const m = new Map<string, ConfigItem>();
    for (const [n, e] of this.entries) if (e.kind === 'link') m.set(n, e.target);
    return m;
  }
}

/**
 * A configfs group: an item that can contain items (made by `mkdir`, or default groups created
 * with it).
 * @kernel struct config_group (config_group_init_type_name)
 */
export class ConfigGroup extends ConfigItem {
  /** Groups created and removed together with this one. @kernel config_group.default_groups */
  readonly defaultGroups: ConfigGroup[] = [];

  /**
   * Adds a default group (before the group is attached).
   * @param g the group.
   * @throws KernelBug when this group is already in the tree.
   * @kernel configfs_add_default_group
   */
  addDefaultGroup(g: ConfigGroup): void {
    if (this.attached) throw new KernelBug(`configfs_add_default_group(${this.name}): group is already attached`);
    this.defaultGroups.push(g);
  }

  /** The items attached under this group (default groups included), in creation order. */
  children(): ConfigItem[] {
    return [...this.entries.values()].flatMap((e) => (e.kind === 'item' ? [e.item] : []));
  }

  /**
   * @param name a child name.
   * @returns the attached child item, or `null`.
   */
  child(name: string): ConfigItem | null {
    const e = this.entries.get(name);
    return e !== undefined && e.kind === 'item' ? e.item : null;
  }
}

function attrMode(a: ConfigAttribute): number {
  if (a.mode !== undefined) return a.mode;
  if (a.show !== undefined && a.store !== undefined) return 0o644;
  return a.show !== undefined ? 0o444 : 0o200;
}

type Resolved =
  | { readonly kind: 'item'; readonly item: ConfigItem }
  | { readonly kind: 'attr'; readonly item: ConfigItem; readonly attr: ConfigAttribute }
  | { readonly kind: 'link'; readonly owner: ConfigItem; readonly name: string; readonly target: ConfigItem };

/**
 * A kernel's configfs (`kernel.configfs`).
 * @kernel configfs_sb
 */
export class Configfs {
  /** The root group, `/sys/kernel/config`; subsystems register under it. */
  readonly root: ConfigGroup;

  /** @param log where subsystem unregistration problems are reported. */
  constructor(private readonly log: KernelLog) {
    this.root = new ConfigGroup('config', { name: 'configfs_root' });
    this.root.attached = true;
  }

  /**
   * Registers a subsystem: its group appears in the root with its default groups.
   * @param group the subsystem's root group (not attached).
   * @returns `0`, or `-EEXIST` when the name is taken.
   * @throws KernelBug when the group is already attached.
   * @kernel configfs_register_subsystem
   */
  registerSubsystem(group: ConfigGroup): KResult {
    if (group.attached) throw new KernelBug(`configfs_register_subsystem(${group.name}): group is already attached`);
    if (this.nameTaken(this.root, group.name)) return err('EEXIST');
    this.attach(this.root, group, false);
    return 0;
  }

  /**
   * Unregisters a subsystem. A non-empty subsystem is logged
   * (`configfs: Tried to unregister non-empty subsystem!`) and detached anyway, as the kernel
   * does; its made items are not dropped.
   * @param group a registered subsystem group.
   * @throws KernelBug when it is not a registered subsystem.
   * @kernel configfs_unregister_subsystem
   */
  unregisterSubsystem(group: ConfigGroup): void {
    if (group.parent !== this.root || !group.attached) throw new KernelBug(`configfs_unregister_subsystem(${group.name}): not registered`);
    if (this.detachPrep(group) !== 0) this.log.prErr('configfs: Tried to unregister non-empty subsystem!');
    this.detach(group);
  }

  /**
   * Creates an item: `mkdir <path>`.
   * @param path absolute path of the new directory.
   * @returns `0` or a negated errno (see the module comment).
   * @throws KernelBug when the make callback returns an attached item or one with another name.
   * @kernel configfs_mkdir
   */
  mkdir(path: string): KResult {
    const split = this.splitParent(path);
    if (typeof split === 'number') return split;
    const [parentRes, name] = split;
    if (parentRes.kind !== 'item') return err('ENOTDIR');
    const parent = parentRes.item;
    if (this.nameTaken(parent, name)) return err('EEXIST');
    if (parent === this.root || !(parent instanceof ConfigGroup)) return err('EPERM');
    const t = parent.type;
    let made: ConfigItem | NegErrno | null;
    if (t.makeGroup !== undefined) made = t.makeGroup(parent, name);
    else if (t.makeItem !== undefined) made = t.makeItem(parent, name);
    else return err('EPERM');
    if (made === null) return err('ENOMEM');
    if (isErr(made)) return made;
    if (made.attached || made.name !== name) {
      throw new KernelBug(`configfs_mkdir(${path}): make callback of ${t.name ?? 'a type'} returned item '${made.name}'${made.attached ? ' that is already attached' : ''}`);
    }
    this.attach(parent, made, false);
    return 0;
  }

  /**
   * Removes an item made by `mkdir`: `rmdir <path>`.
   * @param path the item's path.
   * @returns `0` or a negated errno (see the module comment).
   * @kernel configfs_rmdir
   */
  rmdir(path: string): KResult {
    const r = this.resolve(path, false);
    if (isErr(r)) return r;
    if (r.kind !== 'item') return err('ENOTDIR');
    const item = r.item;
    const parent = item.parent;
    if (parent === null) return err('EBUSY');
    if (parent === this.root) return err('EPERM');
    const pe = parent.entries.get(item.name);
    if (pe !== undefined && pe.kind === 'item' && pe.isDefault) return err('EPERM');
    const prep = this.detachPrep(item);
    if (prep !== 0) return prep;
    parent.type.disconnectNotify?.(parent, item);
    this.detach(item);
    parent.type.dropItem?.(parent, item);
    item.type.release?.(item);
    return 0;
  }

  /**
   * Creates a symlink: `ln -s <target> <linkPath>`.
   * @param target the item linked to: absolute, or relative to the link's directory.
   * @param linkPath the new link's path.
   * @returns `0` or a negated errno (see the module comment).
   * @kernel configfs_symlink
   */
  symlink(target: string, linkPath: string): KResult {
    if (target.includes(NUL) || linkPath.includes(NUL)) return CONFIGFS_PATH_NUL_ERRNO;
    const split = this.splitParent(linkPath);
    if (typeof split === 'number') return split;
    const [parentRes, name] = split;
    if (parentRes.kind !== 'item') return err('ENOTDIR');
    const owner = parentRes.item;
    if (this.nameTaken(owner, name)) return err('EEXIST');
    if (owner === this.root || owner.type.allowLink === undefined) return err('EPERM');
    const abs = target.startsWith('/') ? target : `${owner.path()}/${target}`;
    if (normalize(abs) !== CONFIGFS_ROOT && !normalize(abs).startsWith(`${CONFIGFS_ROOT}/`)) return err('EPERM');
    const t = this.resolve(abs, true);
    if (isErr(t)) return t;
    if (t.kind !== 'item') return err('ENOTDIR');
    const ret = owner.type.allowLink(owner, t.item);
    if (ret !== 0) return ret;
    owner.entries.set(name, { kind: 'link', target: t.item });
    t.item.linkCount++;
    return 0;
  }

  /**
   * Removes a symlink: `unlink <path>`.
   * @param path the link's path.
   * @returns `0` or a negated errno (see the module comment).
   * @kernel configfs_unlink
   */
  unlink(path: string): KResult {
    const r = this.resolve(path, false);
    if (isErr(r)) return r;
    if (r.kind === 'item') return err('EISDIR');
    if (r.kind === 'attr') return err('EPERM');
    r.owner.type.dropLink?.(r.owner, r.target);
    r.owner.entries.delete(r.name);
    r.target.linkCount--;
    return 0;
  }

  /**
   * Reads an attribute file (symlinks followed).
   * @param path the file's path.
   * @returns the text, or a negated errno (see the module comment).
   * @kernel configfs_read_iter
   */
  read(path: string): string | NegErrno {
    const r = this.resolve(path, true);
    if (isErr(r)) return r;
    if (r.kind !== 'attr') return err('EISDIR');
    if (r.attr.show === undefined || (attrMode(r.attr) & 0o444) === 0) return err('EACCES');
    return r.attr.show(r.item);
  }

  /**
   * Writes an attribute file (symlinks followed).
   * @param path the file's path.
   * @param value the text written (newline included, as `echo` sends it).
   * @returns what `store` returns, or a negated errno (see the module comment).
   * @kernel configfs_write_iter
   */
  write(path: string, value: string): number | NegErrno {
    const r = this.resolve(path, true);
    if (isErr(r)) return r;
    if (r.kind !== 'attr') return err('EISDIR');
    if (r.attr.store === undefined || (attrMode(r.attr) & 0o222) === 0) return err('EACCES');
    return r.attr.store(r.item, value);
  }

  /**
   * Lists a directory (symlinks followed).
   * @param path the directory.
   * @returns attribute, item and link names sorted as `ls` shows them, or `-ENOENT`/`-ENOTDIR`.
   */
  list(path: string): string[] | NegErrno {
    const r = this.resolve(path, true);
    if (isErr(r)) return r;
    if (r.kind !== 'item') return err('ENOTDIR');
    return [...(r.item.type.attrs ?? []).map((a) => a.name), ...r.item.entries.keys()].sort();
  }

  /**
   * Reads a symlink.
   * @param path the link's path.
   * @returns the target as configfs writes it: `../` up to the configfs root, then the
   *   target's path from there (`../../../../nvmet/subsystems/nqn`); `-ENOENT`, or `-EINVAL`
   *   for a non-link.
   * @kernel configfs_get_target_path
   */
  readlink(path: string): string | NegErrno {
    const r = this.resolve(path, false);
    if (isErr(r)) return r;
    if (r.kind !== 'link') return err('EINVAL');
    let depth = 0;
    for (let p: ConfigItem | null = r.owner; p !== null && p !== this.root; p = p.parent) depth++;
    return `${'../'.repeat(depth)}${r.target.path()!.slice(CONFIGFS_ROOT.length + 1)}`;
  }

  /**
   * The item at a path (symlinks followed).
   * @param path an absolute path.
   * @returns the item, or `null`.
   */
  findItem(path: string): ConfigItem | null {
    const r = this.resolve(path, true);
    return isErr(r) || r.kind !== 'item' ? null : r.item;
  }

  /** @param path an absolute path. @returns whether it resolves (symlinks followed). */
  exists(path: string): boolean {
    return !isErr(this.resolve(path, true));
  }

  private nameTaken(dir: ConfigItem, name: string): boolean {
    return dir.entries.has(name) || (dir.type.attrs ?? []).some((a) => a.name === name);
  }

  private attach(parent: ConfigGroup, item: ConfigItem, isDefault: boolean): void {
    if (this.nameTaken(parent, item.name)) {
      throw new KernelBug(`configfs: '${item.name}' clashes with an entry of ${parent.path()}`);
    }
    item.parent = parent;
    item.attached = true;
    parent.entries.set(item.name, { kind: 'item', item, isDefault });
    if (item instanceof ConfigGroup) for (const g of item.defaultGroups) this.attach(item, g, true);
  }

  private detach(item: ConfigItem): void {
    if (item instanceof ConfigGroup) {
      for (const g of item.defaultGroups) if (g.attached) this.detach(g);
    }
    item.parent?.entries.delete(item.name);
    item.parent = null;
    item.attached = false;
  }

  /** The checks `rmdir` makes before detaching (`configfs_detach_prep`). */
  private detachPrep(item: ConfigItem): KResult {
    if (item.linkCount > 0) return err('EBUSY');
    for (const e of item.entries.values()) {
      if (e.kind === 'link' || !e.isDefault) return err('ENOTEMPTY');
      const r = this.detachPrep(e.item);
      if (r !== 0) return r;
    }
    return 0;
  }

  private splitParent(path: string): [Resolved, string] | NegErrno {
    if (path.includes(NUL)) return CONFIGFS_PATH_NUL_ERRNO;
    const comps = normalize(path).split('/');
    const name = comps.pop() ?? '';
    if (name === '' || name === '.' || name === '..') return err('EEXIST');
    const parent = this.resolve(comps.join('/'), true);
    if (isErr(parent)) return parent;
    return [parent, name];
  }

  private resolve(path: string, followLast: boolean): Resolved | NegErrno {
    if (path.includes(NUL)) return CONFIGFS_PATH_NUL_ERRNO;
    if (!path.startsWith('/')) return err('ENOENT');
    const norm = normalize(path);
    if (norm !== CONFIGFS_ROOT && !norm.startsWith(`${CONFIGFS_ROOT}/`)) return err('ENOENT');
    const comps = norm.slice(CONFIGFS_ROOT.length).split('/').filter((c) => c !== '');
    let cur: ConfigItem = this.root;
    for (let i = 0; i < comps.length; i++) {
      const c = comps[i]!;
      const last = i === comps.length - 1;
      if (c === '..') {
        cur = cur.parent ?? cur;
        if (last) return { kind: 'item', item: cur };
        continue;
      }
      const e = cur.entries.get(c);
      if (e === undefined) {
        const attr = (cur.type.attrs ?? []).find((a) => a.name === c);
        if (attr === undefined) return err('ENOENT');
        if (!last) return err('ENOTDIR');
        return { kind: 'attr', item: cur, attr };
      }
      if (e.kind === 'link') {
        // Links point at items, never at links, so following one cannot loop.
        if (last && !followLast) return { kind: 'link', owner: cur, name: c, target: e.target };
        cur = e.target;
      } else cur = e.item;
      if (last) return { kind: 'item', item: cur };
    }
    return { kind: 'item', item: cur };
  }
}

/** Collapses `//` and `.` (not `..`, which is resolved against the tree) and a trailing `/`. */
function normalize(path: string): string {
  const comps = path.split('/').filter((c) => c !== '' && c !== '.');
  return `/${comps.join('/')}`;
}
