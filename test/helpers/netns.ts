/**
 * A small multi-host network on this machine, for tests of what happens across a real network:
 * each "host" is a Linux network namespace with its own address on a private subnet. The hosts
 * and the root namespace are plugged into one switch: a bridge in a namespace of its own, joined
 * to each of them by a veth pair. Services the tests start (Redis, the simulator, sentinels)
 * listen on the root namespace's address, which every host reaches, and processes left in the
 * root namespace use the same address.
 *
 * `cut()` drops every packet a host sends or receives, both directions, with nftables rules on
 * the host's switch port (netdev ingress and egress hooks, inside the switch's namespace). The
 * packets are lost on the wire, after the sender's TCP stack handed them over, as on a real
 * network: the sender retransmits with backoff and learns nothing for minutes. (Dropping on the
 * host's own interface would not do: the kernel sees that local drop, retries without backoff
 * and aborts the connection after ~10 s, a kindness no real network offers.) Nothing is
 * rejected: peers see silence, never a reset. The root namespace's own ruleset is never touched.
 *
 * Names and the subnet are unique per lab (pid and a random tag), so parallel jest files never
 * collide. Everything is torn down in `close()` (processes started through the lab killed by
 * PID, namespaces deleted, which removes their veth pairs), and again on process exit should a
 * test never get that far. A lab left behind by a process killed with SIGKILL is removed by the
 * next lab made on the machine.
 *
 * Needs root, `ip` (iproute2) and `nft` (nftables); {@link netnsSupport} says why not otherwise.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { freePort, isPortOpen, startRedisServer, type LocalRedisOptions, type LocalRedisServer } from '../../src/redis/local-server';
import { runCli, startWorker, type CliResult, type WorkerProcess } from './processes';

/** Every name this harness creates starts with this, so leftovers are recognizable. */
const NAME_PREFIX = 'pqn';

export type NetnsSupport = { ok: true } | { ok: false; reason: string };

let support: NetnsSupport | undefined;

/**
 * Whether this machine can run the lab, found by trying it once (a namespace, a veth pair, an
 * nft egress table) rather than guessing from the kernel version. The reason is for a skip message.
 */
export function netnsSupport(): NetnsSupport {
  if (support) return support;
  if (process.platform !== 'linux') return (support = { ok: false, reason: 'network namespaces need Linux' });
  if (process.getuid?.() !== 0) return (support = { ok: false, reason: 'network namespaces need root (CI runs as root)' });
  for (const [tool, pkg] of [['ip', 'iproute2'], ['nft', 'nftables']] as const) {
    if (spawnSync(tool, ['-V'], { stdio: 'ignore' }).error) {
      return (support = { ok: false, reason: `no \`${tool}\` on the PATH (apt-get install -y ${pkg}; .ci/run installs it)` });
    }
  }
  const tag = newTag();
  const ns = `${NAME_PREFIX}${tag}-probe`;
  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
    run('ip', ['-n', ns, 'link', 'add', 'probe0', 'type', 'veth', 'peer', 'name', 'probe1']);
    run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], cutRules('probe0'));
    support = { ok: true };
  } catch (err) {
    support = { ok: false, reason: `cannot build a network namespace lab here: ${(err as Error).message.split('\n')[0]}` };
  } finally {
    spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  }
  return support;
}

/** One host of the lab: a namespace with one address on the lab's LAN. */
export interface LabHost {
  readonly name: string;
  /** The namespace's name, for `ip netns exec`. */
  readonly ns: string;
  readonly address: string;
  /** The argv prefix that runs a command inside this host. */
  readonly launcher: readonly string[];
  /** Drops every packet to and from this host (idempotent). Resolves once the rules are in. */
  cut(): void;
  /** Lets packets through again (idempotent). */
  heal(): void;
  readonly isCut: boolean;
  /** `pokequeue worker ...args` inside this host; killed by PID when the lab closes. */
  startWorker(env: Record<string, string>, args?: string[], readyTimeoutMs?: number): Promise<WorkerProcess>;
  /** `pokequeue ...args` inside this host, to completion. */
  runCli(args: string[], env: Record<string, string>, timeoutMs?: number): Promise<CliResult>;
  /** This host's established TCP connections to `port` on any peer, as local `address:port`. */
  tcpConnectionsTo(port: number): string[];
  /** A redis-server running inside this host, listening on its address; stopped when the lab closes. */
  startRedis(extraArgs?: string[]): Promise<LabRedis>;
}

export interface NetworkLab {
  /** The root namespace's address on the LAN: services the tests start listen here. */
  readonly hostAddress: string;
  readonly hosts: readonly LabHost[];
  addHost(name: string): LabHost;
  /** A redis-server listening on the lab address (and loopback); stopped when the lab closes. */
  startRedis(opts?: Omit<LocalRedisOptions, 'port'> & { port?: number }): Promise<LabRedis>;
  /** Registers a process to be killed (SIGKILL, by PID) when the lab closes. */
  track(pid: number | undefined): void;
  /** Kills what the lab started and deletes its namespaces. Safe to call twice. */
  close(): Promise<void>;
}

export interface LabRedis extends LocalRedisServer {
  /** `redis://<lab address>:<port>`: what workers on every host use. */
  labUrl: string;
}

const openLabs = new Set<{ closeSync(): void }>();
let exitHookInstalled = false;

/**
 * Builds an empty lab (the switch, and the root namespace plugged into it); add hosts with
 * `addHost`. Throws if {@link netnsSupport} is not ok.
 */
export function createNetworkLab(): NetworkLab {
  const s = netnsSupport();
  if (!s.ok) throw new Error(s.reason);
  removeStaleLabs();
  installExitHook();
  const tag = newTag();
  const base = `${NAME_PREFIX}${tag}`;
  const switchNs = `${base}-sw`;
  const subnet = pickSubnet();
  const hostAddress = `${subnet}.1`;
  const hosts: LabHost[] = [];
  const namespaces = [switchNs];
  const pids = new Set<number>();
  const servers: LocalRedisServer[] = [];
  let closed = false;

  const inSwitch = (...args: string[]) => run('ip', ['-n', switchNs, ...args]);
  run('ip', ['netns', 'add', switchNs]);
  inSwitch('link', 'add', 'br0', 'type', 'bridge');
  inSwitch('link', 'set', 'br0', 'up');
  // The root namespace's port: its end (named after the lab) carries the services' address.
  run('ip', ['link', 'add', base, 'type', 'veth', 'peer', 'name', 'up0', 'netns', switchNs]);
  inSwitch('link', 'set', 'up0', 'master', 'br0');
  inSwitch('link', 'set', 'up0', 'up');
  run('ip', ['addr', 'add', `${hostAddress}/24`, 'dev', base]);
  run('ip', ['link', 'set', base, 'up']);

  const closeSync = () => {
    if (closed) return;
    closed = true;
    openLabs.delete(handle);
    // Processes first: a namespace lives on while a process is inside it.
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const server of servers) server.process.kill('SIGKILL');
    // Deleting a namespace deletes the veth ends inside it, and so their peers.
    for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    spawnSync('ip', ['link', 'del', base], { stdio: 'ignore' });
  };
  const handle = { closeSync };
  openLabs.add(handle);

  const lab: NetworkLab = {
    hostAddress,
    hosts,
    addHost(name: string): LabHost {
      const n = hosts.length + 2;
      if (n > 250) throw new Error('a lab holds at most 249 hosts');
      const ns = `${base}-${n}`;
      const port = `p${n}`;
      const address = `${subnet}.${n}`;
      run('ip', ['netns', 'add', ns]);
      namespaces.push(ns);
      // Names inside a namespace cannot collide with anyone's: eth0 in the host, p<n> in the switch.
      inSwitch('link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      inSwitch('link', 'set', port, 'master', 'br0');
      inSwitch('link', 'set', port, 'up');
      run('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      run('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      const launcher = ['ip', 'netns', 'exec', ns];
      let isCut = false;
      const host: LabHost = {
        name,
        ns,
        address,
        launcher,
        get isCut() {
          return isCut;
        },
        cut() {
          if (isCut) return;
          run('ip', ['netns', 'exec', switchNs, 'nft', '-f', '-'], cutRules(port));
          isCut = true;
        },
        heal() {
          if (!isCut) return;
          run('ip', ['netns', 'exec', switchNs, 'nft', 'delete', 'table', 'netdev', `cut_${port}`]);
          isCut = false;
        },
        async startWorker(env, args = [], readyTimeoutMs = 30_000) {
          return startWorker(env, args, readyTimeoutMs, { via: launcher, onSpawn: (pid) => lab.track(pid) });
        },
        runCli(args, env, timeoutMs = 60_000) {
          return runCli(args, env, timeoutMs, { via: launcher, onSpawn: (pid) => lab.track(pid) });
        },
        tcpConnectionsTo(port) {
          const out = run('ip', ['netns', 'exec', ns, 'ss', '-Htn', 'state', 'established', `( dport = :${port} )`]);
          return out.split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/)[2]!);
        },
        async startRedis(extraArgs = []) {
          const port = await freePort();
          const args = ['--port', String(port), '--bind', address, '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning', ...extraArgs];
          const child = spawn(launcher[0]!, [...launcher.slice(1), 'redis-server', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
          lab.track(child.pid);
          let stderr = '';
          child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          const deadline = Date.now() + 10_000;
          while (!(await isPortOpen(port, address))) {
            if (child.exitCode !== null || Date.now() > deadline) {
              child.kill('SIGKILL');
              throw new Error(`redis-server in ${ns} did not start on ${address}:${port}: ${stderr}`);
            }
            await new Promise((r) => setTimeout(r, 50));
          }
          const url = `redis://${address}:${port}`;
          return {
            port,
            url,
            labUrl: url,
            process: child,
            async stop() {
              if (child.exitCode === null && child.signalCode === null) {
                child.kill('SIGTERM');
                await exited;
              }
            },
          };
        },
      };
      hosts.push(host);
      return host;
    },
    async startRedis(opts = {}) {
      // Bound to the lab's private address and loopback only (`bind` given twice: the later one
      // wins), so protected mode, which refuses every other address without a password, can go.
      const server = await startRedisServer({
        ...opts,
        extraArgs: ['--bind', hostAddress, '127.0.0.1', '--protected-mode', 'no', ...(opts.extraArgs ?? [])],
      });
      servers.push(server);
      return Object.assign(server, { labUrl: `redis://${hostAddress}:${server.port}` });
    },
    track(pid) {
      if (pid) pids.add(pid);
    },
    async close() {
      await Promise.all(servers.map((srv) => srv.stop().catch(() => undefined)));
      closeSync();
    },
  };
  return lab;
}

/** Run `nft -f -` with this to drop everything through `dev`, both directions (ARP too). */
function cutRules(dev: string): string {
  return [
    `table netdev cut_${dev} {`,
    `  chain in { type filter hook ingress device "${dev}" priority 0; policy drop; }`,
    `  chain out { type filter hook egress device "${dev}" priority 0; policy drop; }`,
    '}',
    '',
  ].join('\n');
}

function run(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { input, stdio: ['pipe', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')}: ${(e.stderr || e.message).trim()}`);
  }
}

/** The pid in base 36 (so a leftover names the process that made it) and two random characters. */
function newTag(): string {
  return process.pid.toString(36) + randomBytes(2).toString('hex').slice(0, 2);
}

/** A 10.x.y.0/24 no interface of this machine uses yet. */
function pickSubnet(): string {
  const used = run('ip', ['-4', '-o', 'addr', 'show']);
  for (let attempt = 0; attempt < 50; attempt++) {
    const [a, b] = randomBytes(2);
    const subnet = `10.${200 + (a! % 50)}.${b}`;
    if (!used.includes(` ${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.200-249.x.0/24 subnet for the network lab');
}

/** Namespaces of labs whose process is gone (killed with SIGKILL, so no exit hook ran). */
function removeStaleLabs(): void {
  const isStale = (name: string) => {
    const m = new RegExp(`^${NAME_PREFIX}([0-9a-z]+)[0-9a-f]{2}-`).exec(name);
    if (!m) return false;
    const pid = parseInt(m[1]!, 36);
    try {
      process.kill(pid, 0);
      return false;
    } catch {
      return true;
    }
  };
  const namespaces = run('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
  // The root end of a switch's uplink goes with the switch namespace.
  for (const ns of namespaces) if (isStale(ns)) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous on purpose: an 'exit' handler cannot wait for anything.
  process.on('exit', () => {
    for (const lab of [...openLabs]) lab.closeSync();
  });
}
