import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiError, regionFromUrl, RolegateClient, TimedOutError, UnreachableError } from './client';
import { ConfigError, RolegateError } from '../domain/errors';

/*
 * rolegate CLI. `npx rolegate help` for usage. Talks to the HTTP API signed
 * with SigV4 (standard AWS credential chain) or, for a stack deployed with
 * auth=jwt, with an OIDC token; or to the local run with --as <ARN> (the
 * local identity header).
 */

const USAGE = `rolegate <command> [options]

Commands
  request <account> <profile> <minutes> <reason…> [--ticket T] [--principal ARN] [--wait]
                                 [--idempotency-key K]
  list [--view mine|awaiting|all] [--status S] [--limit N] [--cursor C]
  show <id>
  approve <id> [comment…]        deny <id> <reason…>
  cancel <id>                    revoke <id> [comment…]
  revoke-all <comment…> --principal ARN | --account ACCOUNT [--dry-run]
                                 (an incident: every live request of a principal
                                 or in an account, that the caller may revoke)
  extend <id> <minutes> <reason…> [--idempotency-key K]
  retry <id> [comment…]
  catalog
  validate-config [FILE]         (local, no API)
  plan <account> <profile> <minutes> --as ARN [--principal ARN] [--config FILE]   (local dry run, no API)

Options
  --api URL        API base URL (default $ROLEGATE_API; with --as only, the local
                   run at http://127.0.0.1:3000, which is never sent a token or signature)
  --as ARN         local run only: act as this principal (x-rolegate-principal header)
  --profile NAME   AWS profile for SigV4 signing (its region too, unless the URL
                   or AWS_REGION names one); --region REGION
  --token-file F   sign in with the OIDC token in file F instead of SigV4 (a stack
                   deployed with auth=jwt); or set $ROLEGATE_TOKEN
  --json           machine-readable output

<minutes> is a number of minutes or a duration: 90, 90m, 1h, 1h30m.

Each call waits 30 s for its answer. request and extend send an Idempotency-Key
(a new UUID, or --idempotency-key K to repeat an earlier run's) and try again,
with the same key, twice (after 1 s, then 2 s, or the Retry-After the API names,
up to 30 s) when the API cannot be reached, does not answer, or answers 429,
500, 502, 503 or 504: a retry after a timeout never makes a second request.
approve, deny, cancel, revoke and retry are tried again the same way only when
the API says nothing was done: 429, or a revoke whose grant was busy (409
GRANT_BUSY); one that timed out may have been done, and is reported.
`;

/** Options every API command takes (how to reach and sign in to the API, and the output). */
const CONNECTION = ['api', 'as', 'profile', 'region', 'json', 'token-file', 'help'] as const;

/**
 * What each command takes besides CONNECTION: its own options, and at most how many words (Infinity: a text
 * of any length follows). An option it does not use, or a word too many, is refused rather than dropped:
 * `cancel <id> "not needed"` would record no reason, `list awaiting` list the caller's own requests.
 */
const COMMANDS: Record<string, { options: readonly string[]; words: number }> = {
  request: { options: ['ticket', 'principal', 'wait', 'idempotency-key'], words: Infinity },
  list: { options: ['view', 'status', 'limit', 'cursor'], words: 0 },
  show: { options: [], words: 1 },
  approve: { options: [], words: Infinity },
  deny: { options: [], words: Infinity },
  cancel: { options: [], words: 1 },
  revoke: { options: [], words: Infinity },
  'revoke-all': { options: ['principal', 'account', 'dry-run'], words: Infinity },
  extend: { options: ['idempotency-key'], words: Infinity },
  retry: { options: [], words: Infinity },
  catalog: { options: [], words: 0 },
};

/** Refuses an option the command does not use, an empty option value, and words beyond what the command takes. */
function checkUse(command: string, given: Record<string, unknown>, args: readonly string[]): void {
  for (const [name, value] of Object.entries(given)) {
    if (value === '') throw new UsageError(`--${name} is empty: give it a value, or leave it out.`);
  }
  const takes = COMMANDS[command];
  if (!takes) return;
  const unused = Object.keys(given).filter((name) => given[name] !== undefined && given[name] !== false && !(CONNECTION as readonly string[]).includes(name) && !takes.options.includes(name));
  if (unused.length > 0) throw new UsageError(`${command} does not take ${unused.map((n) => `--${n}`).join(', ')}.`);
  if (args.length > takes.words) {
    throw new UsageError(`${command} takes ${takes.words === 0 ? 'no words' : `${takes.words} word${takes.words === 1 ? '' : 's'}`} after it; "${args.slice(takes.words).join(' ')}" is too many${command === 'list' ? ' (a view is --view VIEW)' : command === 'cancel' ? ' (a cancel records no comment)' : ''}.`);
  }
}

/** A reason whose first word reads as a duration: `request prod RO 1h 30m Resize` meant 1h30m, not 60 minutes for "30m Resize". */
function refuseSplitDuration(reason: readonly string[]): void {
  const first = reason[0];
  if (first !== undefined && /^(?:\d+h(?:\d+m?)?|\d+m)$/.test(first)) {
    throw new UsageError(`The reason starts with "${first}", which reads as more of the duration: write the duration as one word (1h30m), or begin the reason otherwise.`);
  }
}

/** The CLI's options, for Node's parser. */
const OPTIONS = {
  api: { type: 'string' },
  as: { type: 'string' },
  profile: { type: 'string' },
  region: { type: 'string' },
  json: { type: 'boolean', default: false },
  ticket: { type: 'string' },
  principal: { type: 'string' },
  account: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  wait: { type: 'boolean', default: false },
  view: { type: 'string' },
  status: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  config: { type: 'string' },
  write: { type: 'string' },
  'token-file': { type: 'string' },
  'idempotency-key': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export interface Io {
  out(line: string): void;
  err(line: string): void;
  env: Record<string, string | undefined>;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** How long each call waits for its answer (the client's 30 s unless a test sets it). */
  timeoutMs?: number;
}

/**
 * Attempts in all for a call the CLI repeats (a request or extend with the same Idempotency-Key; a throttled or
 * GRANT_BUSY decision). Each attempt waits at most the call timeout (30 s) and the waits between are at most 30 s,
 * so a repeated call ends within 3 × 30 s + 2 × 30 s = 150 s (93 s when only timeouts repeat it).
 */
const ATTEMPTS = 3;
/** The longest Retry-After the CLI waits for; a longer one is cut to this. */
const RETRY_AFTER_MAX_S = 30;
/** The local run's address (`npm start`): the API when none is named, for --as only. */
const LOCAL_API = 'http://127.0.0.1:3000';

// API answers are printed as they come, once REPLY has checked what the CLI itself reads in them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Req = Record<string, any>;

const isObject = (v: unknown): v is Req => typeof v === 'object' && v !== null && !Array.isArray(v);
const isObjects = (v: unknown): v is Req[] => Array.isArray(v) && v.every(isObject);
/** A request the CLI can print and follow: its id and status, the approvals it counts while PENDING, its access once ACTIVE. */
const isRequest = (r: unknown): r is Req =>
  isObject(r) && typeof r.id === 'string' && typeof r.status === 'string' && (r.status !== 'PENDING' || Array.isArray(r.approvals)) && (r.status !== 'ACTIVE' || isObject(r.access));

/**
 * What each answer must hold for the CLI to read it: another API behind --api, or a broken one, gets a
 * BAD_RESPONSE rather than a TypeError. Loose on purpose: fields the CLI only prints may change with the API.
 */
const REPLY = {
  request: (b: unknown): b is { request: Req } => isObject(b) && isRequest(b.request),
  page: (b: unknown): b is { items: Req[]; cursor?: string } => isObject(b) && isObjects(b.items),
  detail: (b: unknown): b is { request: Req; decisions: Req[]; events: Req[] } => isObject(b) && isRequest(b.request) && isObjects(b.decisions) && isObjects(b.events),
  catalog: (b: unknown): b is { entries: Req[] } => isObject(b) && isObjects(b.entries) && b.entries.every((e) => Array.isArray(e.approvers)),
};

export async function main(argv: string[], raw: Io): Promise<number> {
  // Much of what the CLI prints is the API's text: made terminal-safe here, once, for every line.
  const io: Io = { ...raw, out: (line) => raw.out(terminalSafe(line)), err: (line) => raw.err(terminalSafe(line)) };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: OPTIONS,
    });
  } catch (e) {
    const message = parseErrorText((e as Error).message);
    io.err(argv.includes('--json') ? jsonText({ error: 'USAGE', message }) : usageError(message, commandIn(argv)));
    return 2;
  }
  const { values: o, positionals: [command, ...args] } = parsed;
  if (!command || o.help || command === 'help') {
    // Asked for help: stdout, 0. No command at all is a usage error: stderr, 2.
    if (command || o.help) {
      io.out(USAGE);
      return 0;
    }
    io.err(o.json ? jsonText({ error: 'USAGE', message: 'Name a command.' }) : USAGE);
    return 2;
  }
  const print = (value: unknown, human: () => string) => io.out(o.json ? jsonText(value, 2) : human());

  try {
    // The file rolegate itself would load: FILE, --config, $ROLEGATE_CONFIG, then the default.
    if (command === 'validate-config') return await validateConfig(args[0] ?? o.config ?? io.env.ROLEGATE_CONFIG, o.write, io, o.json ?? false);
    if (command === 'plan') return await plan(args, o, io, print);

    checkUse(command, o, args);
    if (o.as && o['token-file']) throw new UsageError('--as names the caller of the local run; --token-file signs in to a deployed API: give one or the other.');
    // --as is for the local run, which only this machine answers: never $ROLEGATE_API's deployed API.
    if (o.as && o.api !== undefined && !isLoopback(o.api)) {
      throw new UsageError(`--as names the caller of the local run (npm start) on this machine; ${o.api} is not this machine (a deployed API takes a signature or a token, never --as).`);
    }
    const named = o.as ? o.api : (o.api ?? io.env.ROLEGATE_API);
    // On a shared host anyone may listen on the default port: a token or a signature sent there could be replayed.
    if (!o.as && named === undefined) {
      throw new UsageError(`Name the API with --api URL (or $ROLEGATE_API): without one the CLI talks only to the local run (${LOCAL_API}, with --as ARN), and sends it no OIDC token or SigV4 signature.`);
    }
    const api = named ?? LOCAL_API;
    const bearerToken = o.as ? undefined : oidcToken(o['token-file'], io.env.ROLEGATE_TOKEN);
    // A bearer token, unlike a signature, can be replayed by whoever reads it: never in clear text off this machine.
    if (bearerToken !== undefined && !/^https:/i.test(api) && !isLoopback(api)) {
      throw new UsageError(`An OIDC token is sent only over https (or to this machine): ${api} is not.`);
    }
    if (bearerToken !== undefined && (o.profile || o.region)) {
      throw new UsageError(`${o.profile ? '--profile' : '--region'} is for SigV4 signing, but an OIDC token (${o['token-file'] ? '--token-file' : '$ROLEGATE_TOKEN'}) signs in instead: give one or the other.`);
    }
    // Signing region: --region, the execute-api URL, AWS_REGION or AWS_DEFAULT_REGION, then the profile's
    // own `region` (as the AWS CLI reads it), then us-east-1. The shared config is read only when needed.
    const signing = !o.as && bearerToken === undefined && !o.region && !regionFromUrl(api);
    const defaultRegion = io.env.AWS_REGION || io.env.AWS_DEFAULT_REGION || (signing ? await profileRegion(o.profile) : undefined);
    const client = new RolegateClient({
      api,
      ...(o.as ? { localPrincipal: o.as } : {}),
      ...(bearerToken !== undefined ? { bearerToken } : {}),
      ...(o.region ? { region: o.region } : {}),
      ...(defaultRegion ? { defaultRegion } : {}),
      ...(o.profile ? { profile: o.profile } : {}),
      ...(io.fetch ? { fetch: io.fetch } : {}),
      ...(io.timeoutMs !== undefined ? { timeoutMs: io.timeoutMs } : {}),
    });
    const sleep = io.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    /** Sends a call up to ATTEMPTS times while `again` says a failure may be repeated, waiting 1 s, then 2 s, or the Retry-After the API names if longer. */
    const repeating = async <T>(send: () => Promise<T>, again: (e: unknown) => boolean): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await send();
        } catch (e) {
          if (!again(e) || attempt === ATTEMPTS) throw e;
          const named = e instanceof ApiError && e.retryAfterSeconds !== undefined ? Math.min(e.retryAfterSeconds, RETRY_AFTER_MAX_S) * 1000 : 0;
          const ms = Math.max(1000 * attempt, named);
          io.err(`… ${(e as Error).message} (trying again in ${Math.round(ms / 1000)} s; attempt ${attempt} of ${ATTEMPTS})`);
          await sleep(ms);
        }
      }
    };
    // A creation sent again after a timeout or a dropped connection must not make a second request: the key makes it safe to repeat.
    const create = async (path: string, body: unknown): Promise<{ request: Req }> => {
      const key = o['idempotency-key'] ?? randomUUID();
      const transient = (e: unknown) => e instanceof UnreachableError || e instanceof TimedOutError || (e instanceof ApiError && [429, 500, 502, 503, 504].includes(e.status));
      try {
        return await repeating(() => client.send('POST', path, body, undefined, { headers: { 'idempotency-key': key }, reply: REPLY.request }), transient);
      } catch (e) {
        // The last try may have made it all the same: the same key gets that one back rather than a second.
        if (transient(e)) {
          if (o.json) (e as { idempotencyKey?: string }).idempotencyKey = key;
          else io.err(`To get back what the last try may have made (never a second one), run the same command with --idempotency-key ${key}.`);
        }
        throw e;
      }
    };
    // A decision has no key, so it is repeated only where the API says nothing was done: a throttle (429), or
    // a revoke whose grant another change held (GRANT_BUSY, with Retry-After). A timeout may have acted: never repeated.
    const decide = (id: string, action: string, body: unknown): Promise<{ request: Req }> =>
      repeating(
        () => client.send('POST', `/requests/${encodeURIComponent(id)}/${action}`, body, undefined, { reply: REPLY.request }),
        (e) => e instanceof ApiError && (e.status === 429 || e.code === 'GRANT_BUSY'),
      );
    const need = (n: number, what: string) => {
      if (args.length < n) throw new UsageError(`${command} needs ${what}.`);
    };
    switch (command) {
      case 'request': {
        need(4, '<account> <profile> <minutes> <reason…>');
        const [account, profile, minutes, ...reason] = args as [string, string, string, ...string[]];
        refuseSplitDuration(reason);
        const body = {
          ...(/^\d{12}$/.test(account) ? { accountId: account } : { account }),
          profile,
          durationMinutes: minutesOf(minutes),
          reason: reason.join(' '),
          ...(o.ticket !== undefined ? { ticket: o.ticket } : {}),
          ...(o.principal !== undefined ? { principalArn: o.principal } : {}),
        };
        const { request } = await create('/requests', body);
        const said = `Requested ${request.id}: ${request.status}${standing(request)}`;
        // With --json --wait, stdout carries one document: the final request (below), not this one too; the id goes to
        // stderr at once (a progress line), so a wait that fails or is cut short still says which request was made.
        if (o.wait && o.json) io.err(`… ${said}`);
        else print(request, () => said);
        if (!o.wait) return 0;
        try {
          return await waitForAccess(client, request.id, io, o.json ?? false);
        } catch (e) {
          if (o.json) (e as { requestId?: string }).requestId = request.id;
          else io.err(`Request ${request.id} was made; stopped waiting for it: follow it with \`rolegate show ${request.id}\`.`);
          throw e;
        }
      }
      case 'list': {
        const page = await client.send('GET', '/requests', undefined, {
          view: o.view,
          status: o.status,
          limit: o.limit,
          cursor: o.cursor,
        }, { reply: REPLY.page });
        print(page, () =>
          table(
            ['ID', 'STATUS', 'ACCOUNT', 'PROFILE', 'PRINCIPAL', 'MIN', 'CREATED'],
            page.items.map((r) => [r.id, r.status, r.accountAlias, r.profile, r.principalArn, r.durationMinutes, r.createdAt]),
          ) + (page.cursor ? `\nmore: ${[o.view && `--view ${o.view}`, o.status && `--status ${o.status}`, o.limit && `--limit ${o.limit}`, `--cursor ${page.cursor}`].filter(Boolean).join(' ')}` : ''),
        );
        return 0;
      }
      case 'show': {
        need(1, '<id>');
        const detail = await client.send('GET', `/requests/${encodeURIComponent(args[0]!)}`, undefined, undefined, { reply: REPLY.detail });
        print(detail, () => showText(detail));
        return 0;
      }
      case 'approve':
      case 'deny':
      case 'cancel':
      case 'revoke':
      case 'retry': {
        need(command === 'deny' ? 2 : 1, command === 'deny' ? '<id> <reason…>' : '<id>');
        const comment = args.slice(1).join(' ');
        const body = command === 'cancel' ? {} : comment ? { comment } : {};
        const { request } = await decide(args[0]!, command, body);
        print(request, () => `${request.id}: ${request.status}${request.status === 'PENDING' ? ` (${request.approvals.length} of ${request.approvalsRequired} approvals)` : ''}`);
        return 0;
      }
      case 'revoke-all': {
        need(1, '<comment…> (why: it goes into each request\'s audit trail)');
        if (o.principal === undefined && o.account === undefined) {
          throw new UsageError('revoke-all needs --principal ARN or --account ACCOUNT (or both): it never revokes everything.');
        }
        // A filter that cannot match would report "nothing live" about a principal that may hold plenty.
        if (o.principal !== undefined && principalKey(o.principal) === undefined) {
          throw new UsageError(`--principal must be an IAM user or role ARN, or an assumed-role session ARN (as CloudTrail names it), not "${o.principal}".`);
        }
        if (o.account !== undefined && !/^(\d{12}|[A-Za-z0-9][A-Za-z0-9-]{0,62})$/.test(o.account)) {
          throw new UsageError(`--account must be a 12-digit account id or an account alias, not "${o.account}".`);
        }
        const { live, accounts } = await liveRequests(client, { principal: o.principal, account: o.account });
        // A mistyped account would report "nothing live", which in an incident reads as "nothing to do".
        const where = o.account?.toLowerCase();
        if (where !== undefined && !accounts.some((a) => a.alias.toLowerCase() === where || a.id === where)) {
          const seen = accounts.map((a) => `${a.alias} (${a.id})`).join(', ');
          const message = `no live request you may see is in an account named "${o.account}"${seen ? `; live requests are in ${seen}` : ''}. Check the alias or id.`;
          // Under --json, one JSON line told from an error by its key: a script reading `[]` on stdout can still see why.
          io.err(o.json ? jsonText({ warning: 'ACCOUNT_NOT_SEEN', message, liveAccounts: accounts.map(({ alias, id }) => ({ alias, id })) }) : `warning: ${message}`);
        }
        if (o['dry-run']) {
          print(live, () => (live.length ? table(['ID', 'STATUS', 'ACCOUNT', 'PROFILE', 'PRINCIPAL', 'ENDS'], live.map((r) => [r.id, r.status, r.accountAlias, r.profile, `${r.principalArn}${r.principalSession ? ` (only as ${r.principalSession})` : ''}`, r.endsAt])) : 'Nothing live matches.'));
          return 0;
        }
        const comment = args.join(' ');
        const outcome = { revoked: [] as string[], revokedWithOriginal: [] as string[], alreadyEnded: [] as string[], failed: [] as { id: string; error: string }[] };
        const byId = new Map(live.map((r) => [String(r.id), r]));
        // The request this run revoked that took r with it: its original, or the original's, up the chain.
        const revokedAbove = (r: Req): string | undefined => {
          const done = new Set([...outcome.revoked, ...outcome.revokedWithOriginal]);
          for (let up = r.extendsRequestId as string | undefined; up !== undefined; up = byId.get(up)?.extendsRequestId as string | undefined) {
            if (done.has(up)) return up;
          }
          return undefined;
        };
        for (const r of live) {
          try {
            const { request } = await decide(r.id, 'revoke', { comment });
            outcome.revoked.push(request.id);
            if (!o.json) io.out(`${request.id}: ${request.status}`);
          } catch (e) {
            // Revoking a request takes its extensions with it: one listed after its parent is refused for its status,
            // revoked by this run all the same. Any other refusal leaves its access live: that is a failure.
            const ended = e instanceof ApiError && e.status === 409 && e.code === 'CONFLICT' ? (e.details ?? []).find((d) => d.field === 'status') : undefined;
            const above = ended?.reason === 'is REVOKED' ? revokedAbove(r) : undefined;
            if (above !== undefined) {
              outcome.revokedWithOriginal.push(r.id);
              if (!o.json) io.out(`${r.id}: REVOKED with ${above}, which it extends`);
            } else if (ended) {
              outcome.alreadyEnded.push(r.id);
              if (!o.json) io.out(`${r.id}: had ended already`);
            } else {
              const error = e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : (e as Error).message;
              outcome.failed.push({ id: r.id, error });
              if (!o.json) io.out(`${r.id}: not revoked: ${error}`);
            }
          }
        }
        const withOriginal = outcome.revokedWithOriginal.length;
        print(
          outcome,
          () =>
            `Revoked ${outcome.revoked.length + withOriginal} of ${live.length}${withOriginal ? ` (${withOriginal} with the request they extend)` : ''}; ` +
            `${outcome.alreadyEnded.length} had ended already; ${outcome.failed.length} not revoked${outcome.failed.length ? ' (repeat the command to try them again)' : ''}.`,
        );
        return outcome.failed.length ? 1 : 0;
      }
      case 'extend': {
        need(3, '<id> <minutes> <reason…>');
        refuseSplitDuration(args.slice(2));
        const { request } = await create(`/requests/${encodeURIComponent(args[0]!)}/extend`, {
          durationMinutes: minutesOf(args[1]!),
          reason: args.slice(2).join(' '),
        });
        // An auto-approved extension says where access now ends: the rule's maximum from now may have cut it short.
        print(request, () => `Extension requested: ${request.id}: ${request.status}${standing(request)}`);
        return 0;
      }
      case 'catalog': {
        const { entries } = await client.send('GET', '/catalog', undefined, undefined, { reply: REPLY.catalog });
        print(entries, () =>
          table(
            ['ACCOUNT', 'ID', 'PROFILE', 'MAX MINUTES', 'MFA', 'APPROVALS', 'APPROVERS'],
            entries.map((e) => [e.accountAlias, e.accountId, e.profile, e.maxDurationMinutes, e.requireMfa === true ? 'required' : e.requireMfa === false ? 'no' : '?', e.autoApprove ? 'auto' : e.approvalsRequired, e.approvers.join(', ')]),
          ),
        );
        return 0;
      }
      default:
        throw new UsageError(`Unknown command "${command}".`);
    }
  } catch (e) {
    // With --json every error is one JSON line on stderr, `error` a stable code: the API's, or USAGE, TIMEOUT,
    // UNREACHABLE or ERROR for what happened on this side (progress lines, `… ` first, stay text), with the
    // request a failed --wait had made and the key that gets back what a failed creation may have made.
    const made = e as { requestId?: string; idempotencyKey?: string };
    const context = { ...(made.requestId ? { requestId: made.requestId } : {}), ...(made.idempotencyKey ? { idempotencyKey: made.idempotencyKey } : {}) };
    if (e instanceof UsageError) {
      io.err(o.json ? jsonText({ error: 'USAGE', message: e.message }) : usageError(e.message, command));
      return 2;
    }
    if (e instanceof ApiError) {
      if (o.json) io.err(jsonText({ error: e.code, status: e.status, message: e.message, details: e.details, ...context }));
      else io.err(`Error ${e.status} ${e.code}: ${e.message}${(e.details ?? []).map((d) => `\n  - ${d.field ? `${d.field}: ` : ''}${d.reason}`).join('')}`);
      return 1;
    }
    if (e instanceof RolegateError && o.json) {
      // A refusal of the local commands (plan, validate-config): the code and details the API would give for it.
      io.err(jsonText({ error: e.code, message: e.message, ...(e.details?.length ? { details: e.details } : {}) }));
      return 1;
    }
    const message = e instanceof TimedOutError && e.method === 'POST' ? `${e.message} ${afterTimeout(command, args[0]!)}` : (e as Error).message;
    if (o.json) io.err(jsonText({ error: e instanceof TimedOutError ? 'TIMEOUT' : e instanceof UnreachableError ? 'UNREACHABLE' : 'ERROR', message, ...context }));
    else io.err(`Error: ${message}`);
    return 1;
  }
}

/**
 * The statuses in which a request may give access (FAILED: a provisioning that stopped part-way may have left
 * some), listed in the order requests move between them (APPROVED → ACTIVE or FAILED), so one that moves
 * while they are listed is seen at least once.
 */
const LIVE_STATUSES = ['APPROVED', 'ACTIVE', 'FAILED'];

/**
 * A principal as IAM compares names: account, user or role, and name, case aside and without a path. An
 * assumed-role session counts as its role. Undefined for anything else.
 */
function principalKey(arn: string): string | undefined {
  const m = /^arn:([a-z-]+):(?:iam|sts)::(\d{12}):(user|role|assumed-role)\/(.+)$/i.exec(arn);
  if (!m) return undefined;
  const [, partition, account, type, rest] = m as unknown as [string, string, string, string, string];
  const name = type.toLowerCase() === 'assumed-role' ? rest.split('/')[0] : rest.split('/').at(-1);
  if (!name) return undefined;
  return `${partition}:${account}:${type.toLowerCase() === 'user' ? 'user' : 'role'}/${name}`.toLowerCase();
}

/**
 * Every live request the caller sees (view=all) for the principal (as grantee
 * or requester) and/or in the account (alias or id): the originals before the
 * extensions, since revoking one takes its extensions with it. With them, every
 * account any live request the caller sees is in, to tell a mistyped account.
 */
async function liveRequests(client: RolegateClient, only: { principal?: string; account?: string }): Promise<{ live: Req[]; accounts: { alias: string; id: string }[] }> {
  const found = new Map<string, Req>();
  const accounts = new Map<string, string>();
  const who = only.principal === undefined ? undefined : principalKey(only.principal);
  const where = only.account?.toLowerCase();
  for (const status of LIVE_STATUSES) {
    let cursor: string | undefined;
    do {
      const page = await client.send('GET', '/requests', undefined, { view: 'all', status, limit: '100', cursor }, { reply: REPLY.page });
      for (const r of page.items) {
        accounts.set(String(r.accountId), String(r.accountAlias));
        const byWho = who === undefined || [r.principalArn, r.requester].some((a) => typeof a === 'string' && principalKey(a) === who);
        const byWhere = where === undefined || String(r.accountAlias).toLowerCase() === where || r.accountId === where;
        // Seen twice when it moved on between two listings: once is enough.
        if (byWho && byWhere && !found.has(r.id)) found.set(r.id, r);
      }
      cursor = typeof page.cursor === 'string' ? page.cursor : undefined;
    } while (cursor !== undefined);
  }
  const all = [...found.values()];
  return {
    live: [...all.filter((r) => r.extendsRequestId === undefined), ...all.filter((r) => r.extendsRequestId !== undefined)],
    accounts: [...accounts].map(([id, alias]) => ({ id, alias })).sort((a, b) => a.alias.localeCompare(b.alias)),
  };
}

/** A change that timed out may have been made all the same: say where to look rather than guess. */
function afterTimeout(command: string, id: string): string {
  if (command === 'request') return 'The request may have been made: check with `rolegate list`.';
  if (command === 'extend') return 'The extension may have been requested: check with `rolegate list`.';
  return `The call may have taken effect: check with \`rolegate show ${id}\`.`;
}

class UsageError extends Error {}

/** A usage error as printed: the reason, the command's own usage if it has one, and where the rest is. */
function usageError(message: string, command: string | undefined): string {
  // USAGE holds one or two entries per line, two spaces and more apart (an entry's first word is its command);
  // a line indented further continues the entry above it.
  const entries: string[] = [];
  for (const line of USAGE.slice(USAGE.indexOf('Commands'), USAGE.indexOf('Options')).split('\n').slice(1)) {
    if (/^ {20,}\S/.test(line)) entries[entries.length - 1] += ` ${line.trim()}`;
    // A note in parentheses after an entry belongs to it.
    else {
      for (const part of line.trim().split(/\s{2,}/).filter(Boolean)) {
        if (part.startsWith('(') && entries.length > 0) entries[entries.length - 1] += ` ${part}`;
        else entries.push(part);
      }
    }
  }
  const own = entries.filter((entry) => command !== undefined && entry.split(' ')[0] === command);
  return [message, ...own.map((entry) => `Usage: rolegate ${entry}`), 'Run `rolegate help` for every command and option.'].join('\n');
}

/** The command word of arguments the strict parser refused: the first positional as a lenient parse reads it. */
function commandIn(argv: string[]): string | undefined {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false }).positionals[0];
}

/** Node's parser on an unknown option, in plainer words: a negative number is no option, and a value may start with '-' after '--'. */
function parseErrorText(message: string): string {
  const unknown = /^Unknown option '([^']*)'/.exec(message)?.[1];
  if (unknown === undefined) return message;
  if (/^-\d/.test(unknown)) return `"${unknown}" is taken for an option: durations and limits are positive numbers.`;
  return `Unknown option '${unknown}'. (A value that starts with '-', as a reason might, goes after '--': rolegate deny <id> -- "${unknown} …".)`;
}

function isLoopback(api: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(api).hostname);
  } catch {
    return false;
  }
}

/**
 * The OIDC token to sign in with: the contents of --token-file, else
 * $ROLEGATE_TOKEN; never a command-line value, which other users of the
 * machine could read in the process list and which lands in shell history.
 */
function oidcToken(file: string | undefined, fromEnv: string | undefined): string | undefined {
  let token: string;
  let source: string;
  if (file !== undefined) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new UsageError(`Cannot read the token file ${file}: ${(e as Error).message}`);
    }
    source = `The token file ${file}`;
  } else if (fromEnv) {
    token = fromEnv.trim();
    source = '$ROLEGATE_TOKEN';
  } else {
    return undefined;
  }
  // A JWT is three base64url parts; anything else (a whole JSON reply, a second line) would only be refused by the API.
  if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)) {
    throw new UsageError(`${source} must hold one OIDC token (a JWT: three base64url parts separated by dots), and nothing else.`);
  }
  return token;
}

/** Minutes from `90`, `90m`, `2h` or `1h30m`. */
export function minutesOf(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m?)?$/.exec(text.trim());
  if (!m || (!m[1] && !m[2])) throw new UsageError(`"${text}" is not a duration (use 90, 90m, 2h or 1h30m).`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

/** Rows of the API's values, whatever their type: a missing one is an empty cell. */
export function table(head: string[], rows: unknown[][]): string {
  if (!rows.length) return '(none)';
  const cells = rows.map((r) => r.map((c) => (c === undefined || c === null ? '' : String(c))));
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), ...cells.map(line)].join('\n');
}

/** The person behind a principal (an Identity Center user behind its permission-set role), where the sign-in named one. */
const personOf = (person: unknown): string => (typeof person === 'string' && person !== '' ? ` (${person})` : '');

/** Where an event's change came from: how always, and from where when the API shows it (to responders). */
function sourceText(source: unknown): string {
  if (!isObject(source)) return '';
  const s = source;
  const where = [s.slackUser, s.sourceIp, s.session].filter((x): x is string => typeof x === 'string' && x !== '');
  return ` via ${String(s.via)}${where.length ? ` [${where.join(' ')}]` : ''}`;
}

function showText(d: { request: Req; decisions: Req[]; events: Req[] }): string {
  const r = d.request;
  // One column for the actions, as wide as the longest shown (ACCESS_REMOVAL_ATTEMPT_FAILED is 29).
  const actionWidth = Math.max(18, ...d.events.map((e) => String(e.action).length));
  const lines = [
    `${r.id}  ${r.status}`,
    `  ${r.principalArn}${r.principalSession ? ` (only as ${r.principalSession})` : ''} → ${r.profile} in ${r.accountAlias} (${r.accountId}) for ${r.durationMinutes} min`,
    `  requested by ${r.requester}${personOf(r.requesterPerson)} at ${r.createdAt}: ${r.reason}${r.ticket ? ` [${r.ticket}]` : ''}`,
    ...(r.endedAt ? [`  ended ${r.endedAt}${r.endsAt ? ` (its access was to end ${r.endsAt})` : ''}`] : r.endsAt ? [`  access ends ${r.endsAt}`] : []),
    ...(r.failure ? [`  FAILED: ${r.failure.code}: ${r.failure.message}`] : []),
    '  decisions:',
    ...(d.decisions.length ? d.decisions.map((x) => `    ${x.decision} by ${x.approver}${personOf(x.person)} at ${x.at}${x.comment ? `: ${x.comment}` : ''}`) : ['    (none)']),
    '  audit:',
    ...d.events.map((e) => `    ${e.at}  ${String(e.action).padEnd(actionWidth)} ${e.actor}${personOf(e.actorPerson)}${sourceText(e.source)}${e.comment ? `: ${e.comment}` : ''}`),
  ];
  // Once ended, the role is named for the record; its console link and profile no longer work, so they are not offered.
  if (r.access) lines.push('', r.endedAt ? `Role: ${r.access.roleArn} (no longer usable: the request ended ${r.endedAt})` : accessText(r.access));
  return lines.join('\n');
}

/** What a request just made waits for, or, approved at once, until when it gives access. */
function standing(r: Req): string {
  if (r.status === 'PENDING') return ` (needs ${String(r.approvalsRequired)} approval(s) before ${String(r.decisionDeadline)})`;
  return r.status === 'APPROVED' && typeof r.endsAt === 'string' ? ` (access until ${r.endsAt} once provisioned)` : '';
}

function accessText(a: Req): string {
  return [`Role: ${a.roleArn}`, `Console: ${a.switchRoleUrl}`, `Until: ${a.endsAt}`, '', '~/.aws/config:', cliProfileText(a.cliProfile), '', a.note].join('\n');
}

/** The profile rolegate writes (domain/provisioning/access-details.ts): its header, then these keys (and region, harmless there) with IAM-safe values. */
const PROFILE_HEADER = /^\[profile [\w-]+\]$/;
const PROFILE_LINE = /^(role_arn|source_profile|mfa_serial|external_id|duration_seconds|region) = [\w+=,.@:/-]+$/;

/**
 * The API's ~/.aws/config profile, or a note that it is withheld: people paste it into their AWS config, where a
 * line rolegate never writes (`credential_process = …`, a second section) would run or reroute what the API chose.
 */
function cliProfileText(profile: unknown): string {
  const [header, ...lines] = typeof profile === 'string' ? profile.split('\n') : [];
  if (header !== undefined && PROFILE_HEADER.test(header) && lines.length && lines.every((l) => PROFILE_LINE.test(l))) return profile as string;
  return '(not shown: the API sent a profile with lines rolegate never writes)';
}

/*
 * What the API sends must not drive the terminal it is printed on: escape sequences (CSI; OSC, DCS, SOS, PM and APC
 * strings; the rest) go whole, then every control character but tab and newline (C0, DEL, C1). The API refuses them
 * in free text, so only a broken or hostile --api sends them.
 */
const ESCAPE_SEQUENCES = /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b[\]PX^_]|[\x90\x98\x9d-\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)|\x1b[ -/]*[0-~]/g;
const CONTROL_CHARACTERS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

function terminalSafe(text: string): string {
  return text.replace(ESCAPE_SEQUENCES, '').replace(CONTROL_CHARACTERS, '');
}

/** --json output: JSON.stringify escapes C0 but leaves DEL and C1, which terminalSafe would cut out (a C1 CSI with the `"}` after it, say); escaped, the document stays whole. */
function jsonText(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(/[\x7f-\x9f]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

const FINAL = ['ACTIVE', 'DENIED', 'CANCELLED', 'TIMED_OUT', 'FAILED', 'EXPIRED', 'REVOKED'];

/** Polling: every 2 s after a change, slowing by half each unchanged poll to at most 15 s. */
const POLL_FIRST_MS = 2000;
const POLL_MAX_MS = 15_000;
/** Consecutive polls that may fail on the API's side (5xx, 429, unreachable) before --wait gives up. */
const WAIT_TRANSIENT_LIMIT = 5;

async function waitForAccess(client: RolegateClient, id: string, io: Io, json: boolean): Promise<number> {
  const sleep = io.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  let last = '';
  let interval = POLL_FIRST_MS;
  let failures = 0;
  for (;;) {
    let request: Req;
    try {
      ({ request } = await client.send('GET', `/requests/${encodeURIComponent(id)}`, undefined, undefined, { reply: REPLY.request }));
      failures = 0;
    } catch (e) {
      // A deploy, a throttle or a dropped connection must not end a wait for access that is coming anyway.
      const transient = e instanceof UnreachableError || e instanceof TimedOutError || (e instanceof ApiError && (e.status >= 500 || e.status === 429));
      if (!transient || ++failures >= WAIT_TRANSIENT_LIMIT) throw e;
      io.err(`… ${(e as Error).message} (still waiting; attempt ${failures} of ${WAIT_TRANSIENT_LIMIT})`);
      await sleep(interval);
      interval = Math.min(Math.round(interval * 1.5), POLL_MAX_MS);
      continue;
    }
    const progress = request.status === 'PENDING' ? `PENDING (${request.approvals.length} of ${request.approvalsRequired} approvals)` : request.status;
    if (progress !== last && !json) io.out(`… ${progress}`);
    interval = progress === last ? Math.min(Math.round(interval * 1.5), POLL_MAX_MS) : POLL_FIRST_MS;
    last = progress;
    if (FINAL.includes(request.status)) {
      // --json: one document for scripts, the final request (its access details once ACTIVE).
      if (json) io.out(jsonText(request, 2));
      if (request.status === 'ACTIVE') {
        if (!json) io.out(`\n${accessText(request.access)}`);
        return 0;
      }
      const ended = `Request ${id} ended ${request.status}${request.failure ? `: ${request.failure.message}` : ''}`;
      io.err(json ? jsonText({ error: 'NOT_ACTIVE', message: ended, requestId: id, status: request.status }) : ended);
      return 1;
    }
    await sleep(interval);
  }
}

/**
 * Validates a configuration file. `--write OUT` (packaging's, not in the help:
 * scripts/serverless-validate-config.js) also writes the validated copy the
 * functions load at cold start, recording ROLEGATE_CODE_FINGERPRINT, the
 * fingerprint of the code they are built from; packaging also names the
 * stack's region (ROLEGATE_STACK_REGION), which must be of the
 * configuration's partition.
 */
async function validateConfig(file: string | undefined, write: string | undefined, io: Io, json: boolean): Promise<number> {
  const { validatedConfig, summarizeSettings, toolDeployment } = await import('../config');
  const { DEFAULT_CONFIG_PATH } = await import('../environment');
  const { shadowedRules } = await import('../domain/rules');
  const { partitionOfRegion } = await import('../domain/settings');
  const path = file ?? DEFAULT_CONFIG_PATH;
  const code = io.env.ROLEGATE_CODE_FINGERPRINT;
  if (write !== undefined && !code) {
    throw new UsageError('validate-config --write is for serverless package, which sets ROLEGATE_CODE_FINGERPRINT (the fingerprint of the code the functions are built from).');
  }
  try {
    const validated = validatedConfig(path, toolDeployment(), code ?? '');
    const { settings } = validated;
    // Packaging names the region the stack deploys to: one of another partition than the configuration's would fail every AssumeRole.
    const stackRegion = io.env.ROLEGATE_STACK_REGION;
    if (stackRegion && partitionOfRegion(stackRegion) !== settings.partition) {
      const detail = { field: 'partition', reason: `is ${settings.partition}, but the stack deploys to ${stackRegion}, a region of ${partitionOfRegion(stackRegion)}: every AssumeRole into its accounts would fail` };
      throw new ConfigError(`${path} is not valid for this stack:\n  - ${detail.field}: ${detail.reason}`, [detail]);
    }
    const summary = summarizeSettings(settings);
    if (write !== undefined) {
      // serverless package ships this beside the file: the functions load it instead of validating the file again.
      mkdirSync(dirname(resolve(write)), { recursive: true });
      writeFileSync(write, `${JSON.stringify(validated)}\n`);
    }
    // Valid, but probably not meant: said without failing the check (a deploy goes on).
    const shadowed = shadowedRules(settings);
    if (json) {
      // One document on stdout: what a CI step checks (`.valid`) and shows (`.warnings`).
      io.out(jsonText({ path, valid: true, summary, warnings: shadowed.map(({ rule, by }) => ({ rule, shadowedBy: by })), ...(write !== undefined ? { wrote: write } : {}) }, 2));
      return 0;
    }
    io.out(`${path}: valid (${summary})`);
    if (write !== undefined) io.out(`wrote the validated configuration to ${write}`);
    for (const { rule, by } of shadowed) {
      io.err(
        `warning: rule "${rule}" never governs a request: for every account and profile it covers, an earlier rule (${by.map((b) => `"${b}"`).join(', ')}) names all its requesters, and the first rule in file order governs. Move it up if it should.`,
      );
    }
    return 0;
  } catch (e) {
    // With --json, the caller's catch writes it as one JSON line (CONFIG_INVALID, with the bad fields).
    if (json && e instanceof RolegateError) throw e;
    io.err((e as Error).message);
    return 1;
  }
}

async function plan(args: string[], o: Record<string, unknown>, io: Io, print: (v: unknown, h: () => string) => void): Promise<number> {
  if (args.length < 3 || typeof o.as !== 'string') throw new UsageError('plan needs <account> <profile> <minutes> and --as <requester ARN>.');
  const { planRequest } = await import('./plan');
  const result = await planRequest({
    configPath: (o.config as string | undefined) ?? io.env.ROLEGATE_CONFIG,
    account: args[0]!,
    profile: args[1]!,
    durationMinutes: minutesOf(args[2]!),
    requester: o.as,
    ...(typeof o.principal === 'string' ? { principalArn: o.principal } : {}),
  });
  print(result, () =>
    [
      `Rule ${result.rule}: ${result.approvalsRequired === 0 ? 'approved at once' : `${result.approvalsRequired} approval(s) by ${result.approvers.join(', ')}`}`,
      `Role ${result.roleArn}`,
      '',
      ...result.calls.map((c, i) => `${String(i + 1).padStart(2)}. ${c.service}:${c.command} ${JSON.stringify(c.input)}`),
    ].join('\n'),
  );
  return 0;
}

if (require.main === module) {
  // As bin/rolegate.js: no SDK notice on stderr, where --json writes one JSON line.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  // exitCode, not exit(): output still queued for a pipe (asynchronous on macOS) is written before Node ends.
  main(process.argv.slice(2), { out: (l) => console.log(l), err: (l) => console.error(l), env: process.env }).then((code) => (process.exitCode = code));
}

/**
 * The region the AWS SDK resolves for a profile (--profile, else AWS_PROFILE,
 * else default): its `region` in the shared config file. Asked of an SDK
 * client, so the files and their precedence are the SDK's own; undefined
 * when no profile names one.
 */
async function profileRegion(profile: string | undefined): Promise<string | undefined> {
  const { STSClient } = await import('@aws-sdk/client-sts');
  const client = new STSClient(profile ? { profile } : {});
  try {
    return await client.config.region();
  } catch {
    return undefined;
  } finally {
    client.destroy();
  }
}
