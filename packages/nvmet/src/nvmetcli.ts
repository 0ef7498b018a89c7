/**
 * nvmetcli's JSON configuration format: `nvmetcli save` walks the configfs tree and writes
 * `{ "hosts": [...], "ports": [...], "subsystems": [...] }`; `nvmetcli restore` clears the
 * current configuration and recreates the saved one through configfs (mkdir, attribute writes,
 * symlinks), in nvmetcli's order: hosts, then subsystems (namespaces with their `device` group
 * and `enable`, allowed hosts, `attr` group), then ports (`addr`/`param` groups, subsystem
 * links, ANA groups, referrals).
 *
 * What is saved is what nvmetcli saves: writable attributes of the groups it knows (`attr_*`
 * of subsystems; `device_*`, `ana_*`, `resv_*` and `enable` of namespaces; `addr_*` and
 * `param_*` of ports), values stripped of surrounding whitespace. In particular nvmetcli does
 * **not** save the seed's `allow_p2pmem` (no `addr_`/`param_` prefix) nor 6.6's `p2pmem`
 * (no `device_` prefix): a saved and restored target loses its P2P settings, as with the real
 * tool. The JSON text is Python's `json.dumps(sort_keys=True, indent=2)` plus a newline.
 *
 * Errors are reported with nvmetcli's messages (`'nqn' not defined in subsystem 0`, `Cannot
 * set attribute /sys/kernel/config/nvmet/ports/1/addr_trtype: [Errno 22] Invalid argument`,
 * `Could not symlink nqn.x in configFS: ...`), each on one line: control characters of names and
 * values quoted in them are escaped (`\n`). Unlike nvmetcli, which keeps going (or stops
 * half-way on the errors it raises), a restore that reports any error is rolled back: the
 * configuration that was there before is rebuilt, so a broken file never leaves a half-applied
 * configuration. Malformed entries (wrong JSON types) are found before anything is touched.
 * Unknown keys are ignored, as nvmetcli ignores them, and listed as warnings.
 *
 * @kernel — (nvmetcli, linux-nvme/nvmetcli nvmet/nvme.py: Root.dump, Root.restore)
 */
import type { ConfigAttribute, ConfigItem, Kernel, NegErrno } from '@p2pdma/kernel';
import { ConfigGroup, isErr } from '@p2pdma/kernel';
import { NVMET_CONFIGFS_NAME } from './configfs';

/** Largest NSID nvmetcli accepts. @kernel nvmetcli Namespace.MAX_NSID */
export const NVMETCLI_MAX_NSID = 8192;
/** Largest port ID nvmetcli accepts. @kernel nvmetcli Port.MAX_PORTID */
export const NVMETCLI_MAX_PORTID = 8192;

/** A JSON value. */
export type NvmetcliJson = null | boolean | number | string | NvmetcliJson[] | { [key: string]: NvmetcliJson };

/** The saved configuration (`Root.dump()`). */
export interface NvmetcliConfig {
  /** Hosts: `{ nqn }`. */
  hosts: { [key: string]: NvmetcliJson }[];
  /** Ports. */
  ports: { [key: string]: NvmetcliJson }[];
  /** Subsystems. */
  subsystems: { [key: string]: NvmetcliJson }[];
}

/** The outcome of a restore. */
export interface NvmetcliRestoreResult {
  /** Whether the whole file was applied (`false`: nothing of it remains). */
  readonly ok: boolean;
  /** nvmetcli's error messages, in the order it would print them. */
  readonly errors: readonly string[];
  /** Keys nvmetcli ignores (model addition). */
  readonly warnings: readonly string[];
}

/** Options of a restore. */
export interface NvmetcliRestoreOptions {
  /** Remove the current configuration first (default true, as `nvmetcli restore`). */
  readonly clearExisting?: boolean;
}

/** The C library's messages for the errnos configfs operations return. */
const STRERROR: Readonly<Record<number, string>> = {
  1: 'Operation not permitted',
  2: 'No such file or directory',
  5: 'Input/output error',
  12: 'Cannot allocate memory',
  13: 'Permission denied',
  16: 'Device or resource busy',
  17: 'File exists',
  18: 'Invalid cross-device link',
  19: 'No such device',
  20: 'Not a directory',
  21: 'Is a directory',
  22: 'Invalid argument',
  24: 'Too many open files',
  34: 'Numerical result out of range',
  39: 'Directory not empty',
  95: 'Operation not supported',
  98: 'Address already in use',
  99: 'Cannot assign requested address',
};

/** Python's `str(OSError)`: `[Errno 22] Invalid argument`. */
function pyOsError(e: NegErrno, paths: string[] = []): string {
  const base = `[Errno ${-e}] ${STRERROR[-e] ?? 'Unknown error'}`;
  if (paths.length === 0) return base;
  return `${base}: ${paths.map((p) => `'${p}'`).join(' -> ')}`;
}

class CfsError extends Error {}

const CONTROL_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * An error message on one line: control characters from names and values quoted in it (an NQN
 * or attribute value with a newline) are written as escapes (`\n`, `\t`, `\x07`), so every
 * message stays one line.
 */
function oneLine(msg: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return msg.replace(/[\u0000-\u001f\u007f]/g, (c) => CONTROL_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The attribute groups nvmetcli saves, per object. @kernel nvmetcli attr_groups */
export const NVMETCLI_ATTR_GROUPS = {
  subsystem: ['attr'],
  namespace: ['device', 'ana', 'resv'],
  port: ['addr', 'param'],
  referral: ['addr'],
} as const;

function rootPath(): string {
  return `/sys/kernel/config/${NVMET_CONFIGFS_NAME}`;
}

function attrMode(a: ConfigAttribute): number {
  if (a.mode !== undefined) return a.mode;
  if (a.show !== undefined && a.store !== undefined) return 0o644;
  return a.show !== undefined ? 0o444 : 0o200;
}

/** nvmetcli's view of one configfs directory. */
class Node {
  constructor(
    readonly kernel: Kernel,
    readonly path: string,
  ) {}

  get item(): ConfigItem | null {
    return this.kernel.configfs.findItem(this.path);
  }

  exists(): boolean {
    return this.item !== null;
  }

  /** Writable attributes of a group, names after the prefix, sorted (`list_attrs(group, writable=True)`). */
  listAttrs(group: string): string[] {
    const it = this.item;
    if (it === null) return [];
    return (it.type.attrs ?? [])
      .filter((a) => a.name.startsWith(`${group}_`) && (attrMode(a) & 0o200) !== 0)
      .map((a) => a.name.slice(group.length + 1))
      .sort();
  }

  get(name: string): string {
    const v = this.kernel.configfs.read(`${this.path}/${name}`);
    if (isErr(v)) throw new CfsError(`Cannot find attribute: ${this.path}/${name}`);
    return v.trim();
  }

  hasFile(name: string): boolean {
    return (this.item?.type.attrs ?? []).some((a) => a.name === name);
  }

  set(group: string, name: string, value: NvmetcliJson): void {
    const path = `${this.path}/${group}_${name}`;
    if (!this.hasFile(`${group}_${name}`)) throw new CfsError(`Cannot find attribute: ${path}`);
    const r = this.kernel.configfs.write(path, pyStr(value));
    if (isErr(r)) throw new CfsError(`Cannot set attribute ${path}: ${pyOsError(r)}`);
  }

  /** The attribute groups as nvmetcli dumps them, plus `enable`. */
  dump(groups: readonly string[]): { [key: string]: NvmetcliJson } {
    const d: { [key: string]: NvmetcliJson } = {};
    for (const g of groups) {
      const a: { [key: string]: NvmetcliJson } = {};
      for (const n of this.listAttrs(g)) a[n] = this.get(`${g}_${n}`);
      d[g] = a;
    }
    if (this.hasFile('enable')) d['enable'] = Number.parseInt(this.get('enable'), 10);
    return d;
  }

  setupAttrs(groups: readonly string[], dict: { [key: string]: NvmetcliJson }, errFunc: (s: string) => void): void {
    for (const g of groups) {
      const vals = dict[g];
      if (vals === undefined || vals === null || typeof vals !== 'object' || Array.isArray(vals)) continue;
      for (const [name, value] of Object.entries(vals)) {
        try {
          this.set(g, name, value);
        } catch (e) {
          if (!(e instanceof CfsError)) throw e;
          errFunc(e.message);
        }
      }
    }
    const enable = dict['enable'];
    if (enable !== undefined && enable !== null) {
      if (!this.hasFile('enable')) throw new CfsError(`Cannot enable ${this.path}`);
      const r = this.kernel.configfs.write(`${this.path}/enable`, pyStr(enable));
      if (isErr(r)) throw new CfsError(`Cannot enable ${this.path}: ${pyOsError(r)} (${pyStr(enable)})`);
    }
  }

  mkdir(kind: string): void {
    if (this.exists()) return;
    if (this.kernel.configfs.mkdir(this.path) !== 0) throw new CfsError(`Could not create ${kind} in configFS`);
  }

  children(sub: string): string[] {
    const g = this.kernel.configfs.findItem(`${this.path}/${sub}`);
    if (!(g instanceof ConfigGroup)) return [];
    return g
      .children()
      .map((c) => c.name)
      .sort();
  }

  links(sub: string): string[] {
    const g = this.kernel.configfs.findItem(`${this.path}/${sub}`);
    return g === null ? [] : g.links().sort();
  }
}

/** Python's `str(value)` for what JSON can hold. */
function pyStr(v: NvmetcliJson): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return JSON.stringify(v);
}

/**
 * The configuration as `nvmetcli save` records it.
 * @param kernel the kernel whose target is saved.
 * @returns the configuration (empty lists when the target is not loaded).
 * @kernel nvmetcli Root.dump
 */
export function nvmetcliSave(kernel: Kernel): NvmetcliConfig {
  return dump(kernel, false);
}

function dump(kernel: Kernel, full: boolean): NvmetcliConfig {
  const root = new Node(kernel, rootPath());
  const out: NvmetcliConfig = { hosts: [], ports: [], subsystems: [] };
  if (!root.exists()) return out;
  for (const nqn of root.children('subsystems')) {
    const s = new Node(kernel, `${rootPath()}/subsystems/${nqn}`);
    const d = s.dump(NVMETCLI_ATTR_GROUPS.subsystem);
    d['nqn'] = nqn;
    d['namespaces'] = s
      .children('namespaces')
      .map(Number)
      .sort((a, b) => a - b)
      .map((nsid) => {
        const n = new Node(kernel, `${s.path}/namespaces/${nsid}`);
        const nd = n.dump(NVMETCLI_ATTR_GROUPS.namespace);
        nd['nsid'] = nsid;
        nd['ana_grpid'] = n.hasFile('ana_grpid') ? Number.parseInt(n.get('ana_grpid'), 10) : 0;
        if (full && n.hasFile('p2pmem')) nd['p2pmem'] = n.get('p2pmem');
        return nd;
      });
    d['allowed_hosts'] = s.links('allowed_hosts');
    out.subsystems.push(d);
  }
  for (const id of root
    .children('ports')
    .map(Number)
    .sort((a, b) => a - b)) {
    const p = new Node(kernel, `${rootPath()}/ports/${id}`);
    const d = p.dump(NVMETCLI_ATTR_GROUPS.port);
    d['portid'] = id;
    d['subsystems'] = p.links('subsystems');
    d['ana_groups'] = [];
    d['referrals'] = [];
    if (full && p.hasFile('allow_p2pmem')) d['allow_p2pmem'] = p.get('allow_p2pmem');
    out.ports.push(d);
  }
  for (const nqn of root.children('hosts')) out.hosts.push({ nqn });
  return out;
}

function sortKeys(v: NvmetcliJson): NvmetcliJson {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const o: { [key: string]: NvmetcliJson } = {};
    for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]!);
    return o;
  }
  return v;
}

/**
 * The text `nvmetcli save` writes: `json.dumps(config, sort_keys=True, indent=2)` and a newline
 * (non-ASCII characters escaped as Python does).
 * @param kernel the kernel.
 * @returns the file contents.
 * @kernel nvmetcli Root.save_to_file
 */
export function nvmetcliSaveJson(kernel: Kernel): string {
  return `${nvmetcliFormat(nvmetcliSave(kernel))}\n`;
}

/**
 * Formats a configuration as Python's `json.dumps(sort_keys=True, indent=2)`.
 * @param config the configuration.
 * @returns the JSON text (no trailing newline).
 */
export function nvmetcliFormat(config: NvmetcliConfig): string {
  const text = JSON.stringify(sortKeys(config as unknown as NvmetcliJson), null, 2);
  return text.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

type Obj = { [key: string]: NvmetcliJson };

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Finds type errors before anything is touched; returns messages naming the entry. */
function validate(config: unknown, warnings: string[]): string[] {
  const errs: string[] = [];
  if (!isObj(config)) return ['configuration: expected a JSON object with "hosts", "ports" and "subsystems"'];
  const known = new Set(['hosts', 'ports', 'subsystems']);
  for (const k of Object.keys(config)) if (!known.has(k)) warnings.push(`ignoring unknown key '${k}'`);
  const list = (v: NvmetcliJson | undefined, what: string): Obj[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      errs.push(`${what}: expected a list, got ${JSON.stringify(v)}`);
      return [];
    }
    return v.flatMap((e, i) => {
      if (isObj(e)) return [e];
      errs.push(`${what}[${i}]: expected an object, got ${JSON.stringify(e)}`);
      return [];
    });
  };
  const group = (o: Obj, g: string, what: string) => {
    const v = o[g];
    if (v === undefined) return;
    if (!isObj(v)) errs.push(`${what}.${g}: expected an object of attribute values, got ${JSON.stringify(v)}`);
    else for (const [k, x] of Object.entries(v)) if (x !== null && typeof x === 'object') errs.push(`${what}.${g}.${k}: expected a value, got ${JSON.stringify(x)}`);
  };
  const intIn = (v: NvmetcliJson | undefined, max: number, what: string) => {
    if (v === undefined) return;
    const n = typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v) ? Number.parseInt(v, 10) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > max) errs.push(`${what}: expected an integer 1..${max}, got ${JSON.stringify(v)}`);
  };
  // A name becomes a path: Python refuses a path with a NUL byte (`ValueError: embedded null byte`)
  // before the kernel sees it, so such a file is refused here, before anything is touched.
  const nulFree = (v: NvmetcliJson | undefined, what: string) => {
    if (typeof v === 'string' && v.includes('\u0000')) errs.push(`${what}: embedded null byte in ${JSON.stringify(v)}`);
  };
  const strings = (v: NvmetcliJson | undefined, what: string) => {
    if (v === undefined) return;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) errs.push(`${what}: expected a list of NQN strings, got ${JSON.stringify(v)}`);
    else for (let i = 0; i < v.length; i++) nulFree(v[i], `${what}[${i}]`);
  };
  list(config['hosts'], 'hosts').forEach((h, i) => {
    if (h['nqn'] !== undefined && typeof h['nqn'] !== 'string') errs.push(`hosts[${i}].nqn: expected a string, got ${JSON.stringify(h['nqn'])}`);
    nulFree(h['nqn'], `hosts[${i}].nqn`);
  });
  list(config['subsystems'], 'subsystems').forEach((s, i) => {
    const w = `subsystems[${i}]`;
    if (s['nqn'] !== undefined && typeof s['nqn'] !== 'string') errs.push(`${w}.nqn: expected a string, got ${JSON.stringify(s['nqn'])}`);
    nulFree(s['nqn'], `${w}.nqn`);
    group(s, 'attr', w);
    strings(s['allowed_hosts'], `${w}.allowed_hosts`);
    list(s['namespaces'], `${w}.namespaces`).forEach((n, j) => {
      const wn = `${w}.namespaces[${j}]`;
      intIn(n['nsid'], NVMETCLI_MAX_NSID, `${wn}.nsid`);
      for (const g of NVMETCLI_ATTR_GROUPS.namespace) group(n, g, wn);
    });
  });
  list(config['ports'], 'ports').forEach((p, i) => {
    const w = `ports[${i}]`;
    const id = p['portid'];
    if (id !== undefined && !(typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= NVMETCLI_MAX_PORTID) && !(typeof id === 'string' && /^\d+$/.test(id))) {
      errs.push(`${w}.portid: expected an integer, got ${JSON.stringify(id)}`);
    }
    for (const g of NVMETCLI_ATTR_GROUPS.port) group(p, g, w);
    strings(p['subsystems'], `${w}.subsystems`);
  });
  return errs;
}

/** Removes every port, subsystem and host (`Root.clear_existing`). */
function clearExisting(kernel: Kernel): void {
  const cfs = kernel.configfs;
  const root = new Node(kernel, rootPath());
  if (!root.exists()) return;
  for (const id of root.children('ports')) {
    const p = new Node(kernel, `${rootPath()}/ports/${id}`);
    for (const s of p.links('subsystems')) cfs.unlink(`${p.path}/subsystems/${s}`);
    for (const r of p.children('referrals')) cfs.rmdir(`${p.path}/referrals/${r}`);
    cfs.rmdir(p.path);
  }
  for (const nqn of root.children('subsystems')) {
    const s = new Node(kernel, `${rootPath()}/subsystems/${nqn}`);
    for (const nsid of s.children('namespaces')) cfs.rmdir(`${s.path}/namespaces/${nsid}`);
    for (const h of s.links('allowed_hosts')) cfs.unlink(`${s.path}/allowed_hosts/${h}`);
    cfs.rmdir(s.path);
  }
  for (const h of root.children('hosts')) cfs.rmdir(`${rootPath()}/hosts/${h}`);
}

/** Applies a validated configuration as nvmetcli does; errors go to `errFunc` or throw `CfsError`. */
function apply(kernel: Kernel, config: Obj, errFunc: (s: string) => void, full: boolean): void {
  const cfs = kernel.configfs;
  const arr = (v: NvmetcliJson | undefined): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);
  arr(config['hosts']).forEach((h, i) => {
    const nqn = h['nqn'];
    if (typeof nqn !== 'string') {
      errFunc(`'nqn' not defined in host ${i}`);
      return;
    }
    try {
      new Node(kernel, `${rootPath()}/hosts/${nqn}`).mkdir('Host');
    } catch (e) {
      if (!(e instanceof CfsError)) throw e;
      errFunc(`Could not create Host object: ${e.message}`);
    }
  });
  arr(config['subsystems']).forEach((s, i) => {
    const nqn = s['nqn'];
    if (typeof nqn !== 'string') {
      errFunc(`'nqn' not defined in subsystem ${i}`);
      return;
    }
    const sub = new Node(kernel, `${rootPath()}/subsystems/${nqn}`);
    try {
      sub.mkdir('Subsystem');
    } catch (e) {
      if (!(e instanceof CfsError)) throw e;
      errFunc(`Could not create Subsystem object: ${e.message}`);
      return;
    }
    for (const n of arr(s['namespaces'])) {
      const raw = n['nsid'];
      if (raw === undefined) {
        errFunc("'nsid' not defined for Namespace");
        continue;
      }
      const nsid = typeof raw === 'number' ? raw : Number.parseInt(String(raw), 10);
      const ns = new Node(kernel, `${sub.path}/namespaces/${nsid}`);
      try {
        if (!Number.isInteger(nsid) || nsid < 1 || nsid > NVMETCLI_MAX_NSID) throw new CfsError(`NSID must be 1 to ${NVMETCLI_MAX_NSID}`);
        ns.mkdir('Namespace');
      } catch (e) {
        if (!(e instanceof CfsError)) throw e;
        errFunc(`Could not create Namespace object: ${e.message}`);
        continue;
      }
      const p2p = n['p2pmem'];
      if (full && p2p !== undefined && p2p !== null && ns.hasFile('p2pmem')) cfs.write(`${ns.path}/p2pmem`, pyStr(p2p));
      ns.setupAttrs(NVMETCLI_ATTR_GROUPS.namespace, n, errFunc);
    }
    const hosts = s['allowed_hosts'];
    for (const h of Array.isArray(hosts) ? hosts : []) {
      const target = `${rootPath()}/hosts/${String(h)}`;
      const link = `${sub.path}/allowed_hosts/${String(h)}`;
      const r = cfs.symlink(target, link);
      if (r !== 0) throw new CfsError(`Could not symlink ${String(h)} in configFS: ${pyOsError(r, [target, link])}`);
    }
    sub.setupAttrs(NVMETCLI_ATTR_GROUPS.subsystem, s, errFunc);
  });
  arr(config['ports']).forEach((p, i) => {
    const raw = p['portid'];
    if (raw === undefined) {
      errFunc(`'portid' not defined in port ${i}`);
      return;
    }
    const id = typeof raw === 'number' ? raw : Number.parseInt(String(raw), 10);
    const port = new Node(kernel, `${rootPath()}/ports/${id}`);
    try {
      port.mkdir('Port');
    } catch (e) {
      if (!(e instanceof CfsError)) throw e;
      errFunc(`Could not create Port object: ${e.message}`);
      return;
    }
    port.setupAttrs(NVMETCLI_ATTR_GROUPS.port, p, errFunc);
    const allow = p['allow_p2pmem'];
    if (full && allow !== undefined && allow !== null && port.hasFile('allow_p2pmem')) cfs.write(`${port.path}/allow_p2pmem`, pyStr(allow));
    const subs = p['subsystems'];
    for (const nqn of Array.isArray(subs) ? subs : []) {
      const target = `${rootPath()}/subsystems/${String(nqn)}`;
      const link = `${port.path}/subsystems/${String(nqn)}`;
      const r = cfs.symlink(target, link);
      if (r !== 0) throw new CfsError(`Could not symlink ${String(nqn)} in configFS: ${pyOsError(r, [target, link])}`);
    }
    for (const a of arr(p['ana_groups'])) {
      if (a['grpid'] === undefined) errFunc("'grpid' not defined for ANA Group");
      else errFunc('Could not create ANA Group object: ANA not supported');
    }
    for (const r of arr(p['referrals'])) {
      if (r['name'] === undefined) errFunc("'name' not defined for Referral");
      else errFunc('Could not create Referral object: Could not create Referral in configFS');
    }
  });
}

/**
 * Restores a configuration as `nvmetcli restore` does, all or nothing: any error rolls back to
 * the configuration that was there before.
 * @param kernel the kernel (its target module must be loaded).
 * @param config the parsed JSON.
 * @param opts `clearExisting` (default true).
 * @returns whether it applied, nvmetcli's error messages, and ignored keys.
 * @kernel nvmetcli Root.restore (+ the model's rollback)
 */
export function nvmetcliRestore(kernel: Kernel, config: unknown, opts: NvmetcliRestoreOptions = {}): NvmetcliRestoreResult {
  const warnings: string[] = [];
  if (kernel.configfs.findItem(rootPath()) === null) return { ok: false, errors: [`${rootPath()} does not exist.  Giving up.`], warnings };
  const typeErrs = validate(config, warnings);
  if (typeErrs.length > 0) return { ok: false, errors: typeErrs, warnings };
  const cfg = config as Obj;
  const clear = opts.clearExisting ?? true;
  if (!clear && new Node(kernel, rootPath()).children('subsystems').length > 0) {
    return { ok: false, errors: ['subsystems present, not restoring'], warnings };
  }
  const before = dump(kernel, true);
  const errors: string[] = [];
  const report = (m: string): void => {
    errors.push(oneLine(m));
  };
  if (clear) clearExisting(kernel);
  try {
    apply(kernel, cfg, report, false);
  } catch (e) {
    if (!(e instanceof CfsError)) throw e;
    report(e.message);
  }
  if (errors.length === 0) return { ok: true, errors, warnings };
  clearExisting(kernel);
  apply(kernel, before as unknown as Obj, () => undefined, true);
  return { ok: false, errors, warnings };
}

/**
 * Restores from the text of a saved file (`nvmetcli restore file.json`).
 * @param kernel the kernel.
 * @param text the file contents.
 * @param opts as `nvmetcliRestore`.
 * @returns as `nvmetcliRestore`; a file that is not JSON reports the parser's message and
 *   changes nothing.
 */
export function nvmetcliRestoreJson(kernel: Kernel, text: string, opts: NvmetcliRestoreOptions = {}): NvmetcliRestoreResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { ok: false, errors: [oneLine(`Error: ${(e as Error).message}`)], warnings: [] };
  }
  return nvmetcliRestore(kernel, parsed, opts);
}

/**
 * Removes the whole configuration (`nvmetcli clear`).
 * @param kernel the kernel.
 * @kernel nvmetcli Root.clear_existing
 */
export function nvmetcliClear(kernel: Kernel): void {
  clearExisting(kernel);
}
