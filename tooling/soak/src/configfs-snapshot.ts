/**
 * A snapshot of the target's configuration: every item, attribute value and symlink of the
 * `nvmet/` configfs tree, plus the target state the tree controls (ports enabled, namespaces
 * enabled, allowed hosts). Two snapshots are equal exactly when a user could not tell the two
 * configurations apart, so "a failed store changes nothing" is `snapshot(before) === snapshot(after)`.
 *
 * @kernel — (test tooling over fs/configfs and drivers/nvme/target/configfs.c)
 */
import type { ConfigItem, Kernel } from '@p2pdma/kernel';
import { ConfigGroup, isErr } from '@p2pdma/kernel';
import type { NvmetTarget } from '@p2pdma/nvmet';
import { nvmetConfigfsPath } from '@p2pdma/nvmet';

/** Most entries a snapshot walks before it gives up (a bound on hostile trees). */
export const SNAPSHOT_MAX_ENTRIES = 100_000;

/** Longest attribute value a snapshot keeps verbatim (longer ones are cut, with their length). */
const MAX_VALUE_CHARS = 512;

function show(v: string): string {
  const cut = v.length > MAX_VALUE_CHARS ? `${v.slice(0, MAX_VALUE_CHARS)}…(${v.length} chars)` : v;
  return JSON.stringify(cut);
}

/**
 * Takes a snapshot of a target's configuration.
 * @param kernel the target's kernel.
 * @param target the target module (its state beyond configfs is included); `null` for the tree only.
 * @returns one line per item, attribute and link, sorted, joined by newlines (stable text, so
 *   tests can diff two snapshots). Reading an attribute that fails shows its errno.
 * @throws RangeError when the tree holds more than `SNAPSHOT_MAX_ENTRIES` entries.
 */
export function configfsSnapshot(kernel: Kernel, target: NvmetTarget | null): string {
  const cfs = kernel.configfs;
  const rootPath = target !== null ? nvmetConfigfsPath(target) : '/sys/kernel/config/nvmet';
  const root = cfs.findItem(rootPath);
  const out: string[] = [];
  if (root === null) out.push(`${rootPath}: absent`);
  else {
    const stack: Array<{ item: ConfigItem; path: string }> = [{ item: root, path: rootPath }];
    while (stack.length > 0) {
      const { item, path } = stack.pop()!;
      if (out.length > SNAPSHOT_MAX_ENTRIES) throw new RangeError(`configfsSnapshot: more than ${SNAPSHOT_MAX_ENTRIES} entries under ${rootPath}`);
      out.push(`${path}/`);
      for (const a of item.type.attrs ?? []) {
        const v = cfs.read(`${path}/${a.name}`);
        out.push(`${path}/${a.name} = ${isErr(v) ? `errno ${v}` : show(v)}`);
      }
      for (const [name, target] of item.linkTargets()) out.push(`${path}/${name} -> ${target.path() ?? '(detached)'}`);
      if (item instanceof ConfigGroup) for (const c of item.children()) stack.push({ item: c, path: `${path}/${c.name}` });
    }
  }
  if (target !== null) {
    // Lists are sorted: the order of links and creations is not visible to a user (ls sorts).
    const sorted = (xs: Iterable<string>): string => [...xs].map((x) => JSON.stringify(x)).sort().join(',');
    for (const [id, p] of target.ports) out.push(`state port ${id}: enabled=${p.enabled} subsystems=${sorted(p.subsystems.map((s) => s.subsysnqn))}`);
    for (const [nqn, s] of target.subsystems) {
      const ns = [...s.nsItems.values()].sort((a, b) => a.nsid - b.nsid).map((n) => `${n.nsid}:${n.enabled ? 'on' : 'off'}${n.disabling ? '(draining)' : ''}`);
      out.push(`state subsystem ${JSON.stringify(nqn)}: any=${s.allowAnyHost} hosts=${sorted(s.hosts.map((h) => h.hostnqn))} ns=${ns.join(',')}`);
    }
    out.push(`state hosts: ${sorted(target.hosts.keys())}`);
  }
  return out.sort().join('\n');
}

/**
 * The first line where two snapshots differ, for messages.
 * @param before a snapshot.
 * @param after another.
 * @returns `null` when equal, else `-<line before> / +<line after>`.
 */
export function snapshotDiff(before: string, after: string): string | null {
  if (before === after) return null;
  const a = before.split('\n');
  const b = after.split('\n');
  const sa = new Set(a);
  const sb = new Set(b);
  const gone = a.find((l) => !sb.has(l));
  const added = b.find((l) => !sa.has(l));
  return `${gone !== undefined ? `-${gone}` : ''}${gone !== undefined && added !== undefined ? ' / ' : ''}${added !== undefined ? `+${added}` : ''}`;
}
