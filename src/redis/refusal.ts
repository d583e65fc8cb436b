import { createConnection, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { ExitCode } from '../config/errors';

/**
 * Why a Redis that answers will not let us in, in the user's terms: what Redis said (quoted),
 * and what to do about it.
 *
 * Redis refuses with an error reply whose first word is its code (`NOAUTH`, `WRONGPASS`,
 * `DENIED`...). ioredis hands some of those on as errors, but not all: a server in protected mode
 * writes `-DENIED ...` and closes the connection at once, so ioredis mostly sees `write EPIPE`
 * (and, when the reply does arrive in answer to its HELLO, takes the words "no password is set"
 * in it for the warning "a password was supplied"). A TLS mismatch shows as a reset or a timeout.
 * For those, {@link probeRedis} asks the server itself over a socket of its own.
 */
export interface RedisRefusal {
  /**
   * What the server did, to follow "Redis at <url>": `answered "NOAUTH ..."` with Redis's own
   * words, or what its port did when Redis had none to give (a TLS mismatch).
   */
  readonly problem: string;
  /** What to do about it. */
  readonly advice: string;
  /**
   * 2 (bad configuration) when the URL itself is wrong for that server, such as a database it
   * does not have; 1 for everything an operator may fix on the server side.
   */
  readonly exitCode: number;
}

/** Where a connection goes, for the probe. */
export interface RedisTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

/** The Redis reply codes that mean "you may not", each with what to do. */
const REFUSAL_ADVICE: Record<string, string> = {
  NOAUTH:
    // Written the way it prints: messages hide whatever sits between redis:// and @.
    'That Redis wants a password: put it in REDIS_URL in place of *** in redis://:***@host:port (redis://USER:***@host:port for an ACL user).',
  WRONGPASS:
    "The user name or password in REDIS_URL is wrong, or that ACL user is disabled: check them against the server's requirepass or ACL.",
  DENIED:
    'That Redis takes connections only from its own machine until it has a password. Give it one (requirepass, or an ACL user) and put it in REDIS_URL; ' +
    'or, if only trusted hosts can reach it, start it with --protected-mode no.',
  NOPERM: 'The ACL user in REDIS_URL may not run a command pokequeue needs: grant it +@all on the keys of QUEUE_PREFIX, or use another user.',
};

/** TLS errors that mean the server's certificate was not trusted (Node's error codes). */
const CERTIFICATE_ERRORS = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Network errors that mean nothing answered at all: no probe can learn more. */
const UNREACHABLE_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The refusal an ioredis error stands for, if it is one: a Redis error reply with a refusal code,
 * a SELECT the server refused (a database it does not have), or an untrusted TLS certificate.
 */
export function refusalFromError(err: unknown): RedisRefusal | undefined {
  // A Cluster reports its nodes' last error inside its own.
  const e = ((err as { lastNodeError?: unknown })?.lastNodeError ?? err) as Error & { code?: string; command?: { name?: string; args?: unknown[] } };
  if (!(e instanceof Error)) return undefined;
  if (e.code && CERTIFICATE_ERRORS.has(e.code)) {
    return {
      problem: `presented a TLS certificate that Node does not trust (${e.message}).`,
      advice: "Let Node trust the server's CA with NODE_EXTRA_CA_CERTS=/path/to/ca.pem, or fix the certificate (its name must match the host in REDIS_URL).",
      exitCode: ExitCode.failure,
    };
  }
  if (e.name !== 'ReplyError') return undefined;
  const code = e.message.split(' ', 1)[0]!;
  // Only the command's name: its arguments hold the password (AUTH, HELLO ... AUTH).
  if (e.command?.name === 'select') {
    const db = String(e.command.args?.[0] ?? '?');
    return {
      problem: `answered "${quote(e.message)}" to SELECT ${db}.`,
      advice:
        `REDIS_URL names database ${db}, which that server does not have: use a number below its "databases" setting (16 by default), ` +
        'or none for database 0. Nothing was written.',
      exitCode: ExitCode.usage,
    };
  }
  const advice = REFUSAL_ADVICE[code];
  return advice ? { problem: answered(e.message), advice, exitCode: ExitCode.failure } : undefined;
}

/** Whether a failed connection is worth a probe: something answered, but not as Redis should. */
export function worthProbing(err: unknown, target: RedisTarget): boolean {
  const code = (err as { code?: string })?.code;
  if (code && UNREACHABLE_ERRORS.has(code)) return false;
  if (refusalFromError(err)) return false;
  // A TLS client against a plain server waits for an answer that never comes: a timeout.
  return target.tls || code !== 'ETIMEDOUT';
}

/**
 * Asks the server at `target` why it will not talk, over a socket of its own that sends no
 * credentials. Without TLS: reads what Redis says on its own (protected mode speaks first,
 * `-DENIED ...`), then sends PING; a server that hangs up on a PING but completes a TLS handshake
 * wants TLS. With TLS: a server that answers a plain PING wants plain connections. Resolves to
 * undefined when the server answers as it should, or when nothing can be learnt in `timeoutMs`.
 */
export async function probeRedis(target: RedisTarget, timeoutMs = 1500): Promise<RedisRefusal | undefined> {
  const plain = await plainProbe(target, timeoutMs);
  if (plain.greeting !== undefined) {
    const code = plain.greeting.slice(1).split(' ', 1)[0]!;
    return {
      problem: answered(plain.greeting.slice(1)),
      advice: REFUSAL_ADVICE[code] ?? 'That is what Redis said on connecting, before any command: see its log and settings.',
      exitCode: ExitCode.failure,
    };
  }
  if (target.tls) {
    if (plain.reply === undefined) return undefined;
    return {
      problem: `gave no answer to the TLS handshake, and the same port answers "${plain.reply}" without TLS: it speaks plain Redis.`,
      advice: `REDIS_URL asks for TLS (rediss://): use redis://, or turn TLS on in that Redis (tls-port).`,
      exitCode: ExitCode.failure,
    };
  }
  if (plain.reply !== undefined || !plain.hungUp) return undefined;
  if (!(await speaksTls(target, timeoutMs))) return undefined;
  return {
    problem: 'closed the connection without an answer, and a TLS handshake on the same port succeeds: it speaks TLS only.',
    advice: 'Use rediss:// in REDIS_URL.',
    exitCode: ExitCode.failure,
  };
}

interface PlainProbe {
  /** The error line Redis sent before we said anything (e.g. `-DENIED ...`). */
  greeting?: string;
  /** The first line it answered to PING. */
  reply?: string;
  /** It closed or reset the connection without answering the PING. */
  hungUp: boolean;
}

/** How long a server gets to speak first: protected mode writes its refusal right on accept. */
const GREETING_WAIT_MS = 150;

function plainProbe(target: RedisTarget, timeoutMs: number): Promise<PlainProbe> {
  return new Promise((resolve) => {
    const socket: Socket = createConnection({ host: target.host, port: target.port });
    let buffered = '';
    let pinged = false;
    let settled = false;
    const done = (result: PlainProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(greetingTimer);
      socket.destroy();
      resolve(result);
    };
    const deadline = setTimeout(() => done({ hungUp: false }), timeoutMs);
    let greetingTimer: NodeJS.Timeout | undefined;
    socket.once('connect', () => {
      greetingTimer = setTimeout(() => {
        pinged = true;
        socket.write('PING\r\n');
      }, GREETING_WAIT_MS);
    });
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n');
      if (end === -1 && buffered.length < 4096) return;
      const line = buffered.slice(0, end === -1 ? 4096 : end);
      // A reply to PING must be RESP ("+PONG", "-NOAUTH ..."); anything else is not Redis speaking.
      const resp = /^[-+]/.test(line);
      if (!pinged) done(resp && line.startsWith('-') ? { greeting: line, hungUp: false } : { hungUp: false });
      // After the PING, bytes that are not RESP (a TLS alert) are a server that wants something else.
      else done(resp ? { reply: line, hungUp: false } : { hungUp: true });
    });
    socket.once('error', () => done({ hungUp: pinged }));
    socket.once('close', () => done({ hungUp: pinged }));
  });
}

function speaksTls(target: RedisTarget, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    // Only "does this port speak TLS at all?": whatever certificate it has is fine for that.
    const socket = tlsConnect({ host: target.host, port: target.port, rejectUnauthorized: false });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** `answered "..."`, ending a sentence whether or not Redis's words end one. */
function answered(message: string): string {
  const q = quote(message);
  return /[.!?]$/.test(q) ? `answered "${q}"` : `answered "${q}".`;
}

/**
 * Redis's words, up to its first two sentences: protected mode's reply goes on for 800
 * characters of ways out, which the advice after the quote names in pokequeue's terms.
 */
function quote(message: string): string {
  const sentences = message.match(/[^.]+(\.|$)/g) ?? [message];
  let out = '';
  for (const s of sentences) {
    if (out && (out.length + s.length > 240 || out.split('. ').length >= 2)) break;
    out += s;
  }
  return out.trim();
}
