/**
 * configfs names from user space (issue 9, soak finding): a `mkdir` whose name had a NUL byte
 * reached the make callback and threw `KernelBug` from `ConfigItem`. A path is a C string in the
 * kernel (fs/namei.c getname: it ends at the first NUL), so no name can carry one; user space
 * refuses it before the system call. The model refuses such a path with -EINVAL
 * (CONFIGFS_PATH_NUL_ERRNO, a modelling choice). A '/' is a path separator, never part of a name
 * (fs/namei.c link_path_walk): the walk to the parent fails with -ENOENT when it is missing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CONFIGFS_PATH_NUL_ERRNO } from '../src/configfs';
import type { ConfigItemType } from '../src/index';
import { CONFIGFS_ROOT, ConfigGroup, ConfigItem, err, Kernel, KernelBug } from '../src/index';

const TOP = `${CONFIGFS_ROOT}/demo`;

/** A subsystem `demo` with `things/` (mkdir makes groups) and a `links/` group taking symlinks. */
function setup(): { k: Kernel; made: string[] } {
  const k = new Kernel();
  const made: string[] = [];
  const thingType: ConfigItemType = { name: 'thing', attrs: [{ name: 'value', show: () => '1\n', store: (_i, v) => v.length }] };
  const thingsType: ConfigItemType = {
    name: 'things',
    makeGroup: (_p, name) => {
      made.push(name);
      return new ConfigGroup(name, thingType);
    },
  };
  const linksType: ConfigItemType = { name: 'links', allowLink: () => 0 };
  const root = new ConfigGroup('demo', { name: 'demo_root' });
  root.addDefaultGroup(new ConfigGroup('things', thingsType));
  root.addDefaultGroup(new ConfigGroup('links', linksType));
  expect(k.configfs.registerSubsystem(root)).toBe(0);
  expect(k.configfs.mkdir(`${TOP}/things/a`)).toBe(0);
  made.length = 0;
  return { k, made };
}

describe('configfs: names user space cannot pass', () => {
  it('the errno is -EINVAL', () => {
    expect(CONFIGFS_PATH_NUL_ERRNO).toBe(err('EINVAL'));
  });

  it('regression: mkdir of a name with a NUL byte returns -EINVAL (was: KernelBug from config_item); no make callback runs, nothing is created', () => {
    const { k, made } = setup();
    for (const name of ['nul\u0000byte', '\u0000', 'x\u0000', '\u0000..']) {
      expect(k.configfs.mkdir(`${TOP}/things/${name}`)).toBe(err('EINVAL'));
    }
    expect(made).toEqual([]);
    expect(k.configfs.list(`${TOP}/things`)).toEqual(['a']);
  });

  it('every path operation refuses a path with a NUL byte with -EINVAL and changes nothing', () => {
    const { k, made } = setup();
    const cfs = k.configfs;
    expect(cfs.symlink(`${TOP}/things/a`, `${TOP}/links/l`)).toBe(0);
    const bad = `${TOP}/things/a\u0000`;
    expect(cfs.rmdir(bad)).toBe(err('EINVAL'));
    expect(cfs.read(`${bad}/value`)).toBe(err('EINVAL'));
    expect(cfs.write(`${TOP}/things/a/value\u0000`, '1\n')).toBe(err('EINVAL'));
    expect(cfs.list(bad)).toBe(err('EINVAL'));
    expect(cfs.symlink(bad, `${TOP}/links/m`)).toBe(err('EINVAL'));
    expect(cfs.symlink(`${TOP}/things/a`, `${TOP}/links/m\u0000`)).toBe(err('EINVAL'));
    expect(cfs.symlink('/etc/pass\u0000wd', `${TOP}/links/m`)).toBe(err('EINVAL'));
    expect(cfs.unlink(`${TOP}/links/l\u0000`)).toBe(err('EINVAL'));
    expect(cfs.readlink(`${TOP}/links/l\u0000`)).toBe(err('EINVAL'));
    expect(cfs.findItem(bad)).toBeNull();
    expect(cfs.exists(bad)).toBe(false);
    expect(made).toEqual([]);
    expect(cfs.list(`${TOP}/links`)).toEqual(['l']);
    expect(cfs.list(`${TOP}/things`)).toEqual(['a']);
  });

  it("a '/' separates components: mkdir things/x/y walks to things/x (-ENOENT), things/a/b lands in an item without make (-EPERM); no make callback sees a '/'", () => {
    const { k, made } = setup();
    expect(k.configfs.mkdir(`${TOP}/things/x/y`)).toBe(err('ENOENT'));
    expect(k.configfs.mkdir(`${TOP}/things/a/b`)).toBe(err('EPERM'));
    expect(made).toEqual([]);
  });

  it('a driver constructing an item with a bad name is still a model bug (KernelBug)', () => {
    for (const name of ['a/b', 'a\u0000', '', '.', '..']) expect(() => new ConfigItem(name, {})).toThrow(KernelBug);
  });

  it('property: mkdir of any name never throws; 0 exactly when made (then listed), -EINVAL for every name with a NUL byte', () => {
    const { k, made } = setup();
    const cfs = k.configfs;
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('nul\u0000byte', '\u0000', 'a/b', '..', '.', '', 'a')), (name) => {
        made.length = 0;
        const before = cfs.list(`${TOP}/things`) as string[];
        const r = cfs.mkdir(`${TOP}/things/${name}`);
        const after = cfs.list(`${TOP}/things`) as string[];
        if (name.includes('\u0000')) return r === err('EINVAL') && made.length === 0 && after.length === before.length;
        if (r !== 0) return r < 0 && after.length === before.length;
        // Made: exactly one new entry, named as the make callback saw it; remove it again.
        const added = after.filter((n) => !before.includes(n));
        return made.length === 1 && added.length === 1 && added[0] === made[0] && cfs.rmdir(`${TOP}/things/${made[0]}`) === 0;
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
