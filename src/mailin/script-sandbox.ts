import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../core/index.js';

/**
 * What this host lets us put around a script agent's child process, found once per process by
 * trying each tool: an empty network namespace (`unshare -n` as root, `unshare -rn` with user
 * namespaces), a data segment limit (`prlimit`, else sh's `ulimit -d`) and Node's permission
 * model (`--permission` from Node 22, `--experimental-permission` on 20).
 *
 * RLIMIT_DATA counts every private writable mapping, also address space reserved and never
 * touched, and what Node reserves at start differs by version: about 48 MB on Node 20, about
 * 575 MB on Node 24, whose V8 maps its 512 MB code range read-write-execute up front. A fixed
 * limit that suits 20 kills 24 before it runs a line ("Failed to reserve virtual memory for
 * CodeRange"), so the limit is what this runtime has at start, measured once, plus the
 * configured allowance. (RLIMIT_AS is worse: the pointer cage and heap reservations are
 * gigabytes of address space on every version.)
 */
export interface SandboxCapabilities {
  /** Command prefix giving the child its own network namespace with no interfaces up; null: none. */
  netns: string[] | null;
  /** How RLIMIT_DATA and RLIMIT_CPU are set. */
  rlimit: { kind: 'prlimit'; path: string } | { kind: 'ulimit'; path: string } | null;
  permissionFlag: '--permission' | '--experimental-permission' | null;
  /** MB of data segment (VmData) a freshly started Node of this runtime has; 0 where not measured or no rlimit. */
  runtimeDataMb: number;
  /** What is missing, in words for the start-up warning; empty when everything is there. */
  missing: string[];
}

export interface ChildLimits {
  maxOldGenerationSizeMb: number;
  maxYoungGenerationSizeMb: number;
  stackSizeMb: number;
  /**
   * What the process may take beyond Node's own start (RLIMIT_DATA is this plus
   * SandboxCapabilities.runtimeDataMb): the V8 heap, Buffers, everything malloc'd or mapped writable.
   */
  maxMemoryMb: number;
  /** RLIMIT_CPU in seconds: ends even a child the service lost track of (the service itself died). */
  cpuSeconds: number;
}

const here = dirname(fileURLToPath(import.meta.url));
/** The child's entry point and the one module it imports: all it may read besides the script's folder. */
export const CHILD_FILES = [join(here, 'script-child.js'), join(here, 'frames.js')] as const;

function findExecutable(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin', '/bin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** VmData of a freshly started `node` (this runtime), in MB rounded up; 0 where /proc has no answer. */
function runtimeDataMb(): Promise<number> {
  const code = "const m = /^VmData:\\s*(\\d+) kB/m.exec(require('fs').readFileSync('/proc/self/status', 'utf8')); process.stdout.write(m ? m[1] : '')";
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', code], { timeout: 5000, env: {} }, (err, stdout) => {
      const kb = err ? NaN : Number.parseInt(stdout, 10);
      resolve(Number.isFinite(kb) && kb > 0 ? Math.ceil(kb / 1024) : 0);
    });
  });
}

function works(file: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 5000, env: {} }, (err) => resolve(!err));
  });
}

/** The tools to try; a test passes others (or null: not there) to see the fallbacks. */
export interface SandboxTools {
  unshare: string | null;
  prlimit: string | null;
  shell: string | null;
  permissionFlags: ReadonlySet<string>;
}

function hostTools(): SandboxTools {
  return { unshare: findExecutable('unshare'), prlimit: findExecutable('prlimit'), shell: '/bin/sh', permissionFlags: process.allowedNodeEnvironmentFlags };
}

/** Tries each tool once; what does not work is named in `missing`. */
export async function probeSandbox(tools: SandboxTools = hostTools()): Promise<SandboxCapabilities> {
  const missing: string[] = [];
  const probe = [process.execPath, '--version'];
  let netns: string[] | null = null;
  const unshare = tools.unshare;
  if (unshare && (await works(unshare, ['-n', ...probe]))) netns = [unshare, '-n'];
  else if (unshare && (await works(unshare, ['-rn', ...probe]))) netns = [unshare, '-rn'];
  else missing.push(unshare ? 'no network namespace (unshare -n needs root, unshare -rn user namespaces): scripts can open network connections' : 'no unshare (util-linux): scripts can open network connections');

  let rlimit: SandboxCapabilities['rlimit'] = null;
  const { prlimit, shell } = tools;
  if (prlimit && (await works(prlimit, ['--data=1073741824', '--cpu=60', '--', ...probe]))) rlimit = { kind: 'prlimit', path: prlimit };
  else if (shell && (await works(shell, ['-c', 'ulimit -d 1048576 && ulimit -t 60 && exec "$0" "$@"', ...probe]))) rlimit = { kind: 'ulimit', path: shell };
  else missing.push('no prlimit or sh ulimit: memory outside the JavaScript heap (Buffers) is not bounded');
  const dataMb = rlimit ? await runtimeDataMb() : 0;

  const flags = tools.permissionFlags;
  const permissionFlag = flags.has('--permission') ? '--permission' : flags.has('--experimental-permission') ? '--experimental-permission' : null;
  if (!permissionFlag) missing.push(`Node ${process.version} has no permission model: scripts can read files, start processes and load addons`);
  return { netns, rlimit, permissionFlag, runtimeDataMb: dataMb, missing };
}

let detected: Promise<SandboxCapabilities> | undefined;

/** The host's sandbox capabilities, probed on first use and then remembered. */
export function sandboxCapabilities(): Promise<SandboxCapabilities> {
  detected ??= probeSandbox();
  return detected;
}

/**
 * The command line of one script run's child process: [namespace] [limits] node [permission,
 * heap flags] script-child.js. `network` keeps the host's network (a grant in
 * mailin.script.allowNetwork); `scriptDir` is the one folder besides CHILD_FILES it may read.
 */
/** An account to run scripts as. */
export interface ScriptUser {
  name: string;
  uid: number;
  gid: number;
}

/**
 * The account scripts run as (`mailin.script.user`) when the service runs as root; null when
 * it does not (scripts then run as the service's own user) or the setting is empty. A name is
 * looked up in /etc/passwd; `uid` or `uid:gid` are taken as they are. An unknown name throws.
 */
export function scriptUser(setting: string, isRoot = process.getuid?.() === 0, passwd = '/etc/passwd'): ScriptUser | null {
  if (!isRoot || setting === '') return null;
  const numeric = /^(\d+)(?::(\d+))?$/.exec(setting);
  if (numeric) return { name: setting, uid: Number(numeric[1]), gid: Number(numeric[2] ?? numeric[1]) };
  let text = '';
  try {
    text = readFileSync(passwd, 'utf8');
  } catch {
    /* no passwd file: only numeric ids work */
  }
  for (const line of text.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === setting && uid !== undefined && gid !== undefined) return { name, uid: Number(uid), gid: Number(gid) };
  }
  throw new UsageError(`mailin.script.user: no user ${setting} in ${passwd} (give a name, uid or uid:gid, or "" to keep root)`);
}

/**
 * The command line of one script run's child process: [namespace] [limits] node [permission,
 * heap flags] script-child.js, and the ids to spawn it with. `network` keeps the host's network
 * (a grant in mailin.script.allowNetwork); `scriptDir` is the one folder besides CHILD_FILES it
 * may read; `user` the account it runs as (root's `unshare -n` changes to it after making the
 * namespace, otherwise the spawn does).
 */
export function childCommand(
  caps: SandboxCapabilities,
  limits: ChildLimits,
  scriptDir: string,
  network: boolean,
  user: ScriptUser | null = null,
): { file: string; args: string[]; uid?: number; gid?: number } {
  const node = [
    process.execPath,
    ...(caps.permissionFlag ? [caps.permissionFlag, ...CHILD_FILES.map((f) => `--allow-fs-read=${f}`), `--allow-fs-read=${scriptDir}`] : []),
    '--no-addons',
    `--max-old-space-size=${limits.maxOldGenerationSizeMb}`,
    // V8's young generation is three semi-spaces.
    `--max-semi-space-size=${Math.max(1, Math.floor(limits.maxYoungGenerationSizeMb / 3))}`,
    `--stack-size=${limits.stackSizeMb * 1024}`,
    CHILD_FILES[0],
  ];
  let cmd = node;
  const bytes = (limits.maxMemoryMb + caps.runtimeDataMb) * 1024 * 1024;
  if (caps.rlimit?.kind === 'prlimit') cmd = [caps.rlimit.path, `--data=${bytes}`, `--cpu=${limits.cpuSeconds}`, '--', ...node];
  else if (caps.rlimit?.kind === 'ulimit') cmd = [caps.rlimit.path, '-c', `ulimit -d ${bytes / 1024} && ulimit -t ${limits.cpuSeconds} && exec "$0" "$@"`, ...node];
  if (caps.netns && !network) {
    // unshare -n needs root; the ids change once the namespace is made.
    const ids = user && caps.netns[1] === '-n' ? ['-S', String(user.uid), '-G', String(user.gid)] : [];
    cmd = [...caps.netns, ...ids, ...cmd];
    return { file: cmd[0]!, args: cmd.slice(1), ...(user && ids.length === 0 ? { uid: user.uid, gid: user.gid } : {}) };
  }
  return { file: cmd[0]!, args: cmd.slice(1), ...(user ? { uid: user.uid, gid: user.gid } : {}) };
}

/** Whether `scriptPath` is granted the network: named in the list, or inside a folder named there (ending in /). */
export function networkGranted(scriptPath: string, allowNetwork: readonly string[]): boolean {
  return allowNetwork.some((p) => (p.endsWith('/') ? scriptPath.startsWith(p) : scriptPath === p));
}
