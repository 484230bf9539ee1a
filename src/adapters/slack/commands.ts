import { ValidationError } from '../../domain/errors';
import { ACCOUNT_REF, HIDDEN_CHARACTERS, HIDDEN_CHARACTERS_REASON, LONE_SURROGATE, LONE_SURROGATE_REASON, NAME, TICKET_ID } from '../../domain/text';
import {
  APPROVE_ACTION_ID,
  DENY_ACTION_ID,
  DENY_REASON_ACTION_ID,
  DENY_REASON_BLOCK_ID,
  DENY_REASON_CALLBACK_ID,
  FREE_TEXT_MAX,
  REQUEST_ID,
} from './constants';

/*
 * Parsing of what Slack posts, after verifySlackRequest has checked the
 * signature: the `/access` slash command (form-encoded fields and the text
 * typed after the command) and interaction payloads (`payload=<json>`).
 * Malformed input becomes a SlackPayloadError (VALIDATION_FAILED, a 400),
 * never a crash; a mistyped command becomes `{kind: 'invalid'}` with a
 * message meant for the user.
 */

/** Slack sent something that does not have the expected shape. */
export class SlackPayloadError extends ValidationError {
  constructor(field: string, reason: string) {
    super(`The Slack payload is malformed: ${field} ${reason}.`, [{ field, reason }]);
  }
}

// ---------------------------------------------------------------------------
// The /access command text

export type AccessCommand =
  | { kind: 'request'; account: string; profile: string; durationMinutes: number; reason: string; ticket?: string }
  | { kind: 'list' }
  | { kind: 'status'; requestId: string }
  | { kind: 'approve'; requestId: string; comment?: string }
  | { kind: 'deny'; requestId: string; reason: string }
  | { kind: 'revoke'; requestId: string; comment?: string }
  | { kind: 'cancel'; requestId: string }
  | { kind: 'help' }
  | { kind: 'invalid'; message: string; usage: string };

/** The longest access the configuration can allow (ruleSchema.maxDurationMinutes: 30 days). */
export const MAX_DURATION_MINUTES = 60 * 24 * 30;

export function usage(command = '/access'): string {
  return [
    `${command} request <account> <profile> <duration> [--ticket <id>] <reason…>`,
    `${command} list`,
    `${command} status <id>`,
    `${command} approve <id> [comment…]`,
    `${command} deny <id> <reason…>`,
    `${command} revoke <id> [comment…]`,
    `${command} cancel <id>`,
    `${command} help`,
    'Durations: 90m, 2h, 1h30m, or a number of minutes (90).',
  ].join('\n');
}

/**
 * Slack HTML-escapes &, < and > in the command text. Undo it, so that the
 * stored reason is what the user typed (the Block Kit builders escape again
 * on the way out).
 */
export function unescapeSlackText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

/**
 * Minutes from `90m`, `2h`, `1h30m` or a plain number of minutes. Returns an
 * error message for anything else (fractions, seconds, days, zero, more than
 * 30 days, minutes ≥ 60 after hours).
 */
export function parseDuration(token: string): { minutes: number } | { error: string } {
  const t = token.toLowerCase();
  const m = /^(?:(\d{1,5})h)?(?:(\d{1,6})m)?$/.exec(t);
  const plain = /^\d{1,6}$/.test(t);
  if (!plain && (!m || (m[1] === undefined && m[2] === undefined))) {
    return { error: `"${token}" is not a duration: use 90m, 2h, 1h30m or a number of minutes such as 90.` };
  }
  let minutes: number;
  if (plain) {
    minutes = Number(t);
  } else {
    const hours = m![1] === undefined ? 0 : Number(m![1]);
    const mins = m![2] === undefined ? 0 : Number(m![2]);
    if (m![1] !== undefined && mins >= 60) return { error: `"${token}" is not a duration: after hours, give fewer than 60 minutes (e.g. 1h30m).` };
    minutes = hours * 60 + mins;
  }
  if (minutes < 1) return { error: `"${token}" is not a duration: it must be at least 1 minute.` };
  if (minutes > MAX_DURATION_MINUTES) return { error: `"${token}" is too long: at most 30 days (${MAX_DURATION_MINUTES} minutes).` };
  return { minutes };
}

/** A message when free text (reason, comment) is unacceptable, as the HTTP API checks it. */
export function freeTextProblem(text: string, what: string): string | undefined {
  if (text.length === 0) return `${what} must not be empty.`;
  if (text.length > FREE_TEXT_MAX) return `${what} must be at most ${FREE_TEXT_MAX} characters (it has ${text.length}).`;
  if (HIDDEN_CHARACTERS.test(text)) return `${what} ${HIDDEN_CHARACTERS_REASON}.`;
  if (LONE_SURROGATE.test(text)) return `${what} ${LONE_SURROGATE_REASON}.`;
  return undefined;
}

interface Token {
  value: string;
  index: number;
}

function tokenize(text: string): Token[] {
  return [...text.matchAll(/\S+/g)].map((m) => ({ value: m[0], index: m.index }));
}

/**
 * Parses the text typed after `/access`. Pure: which accounts, profiles and
 * requests exist, and who may do what, is decided by the use-cases.
 */
export function parseAccessCommand(rawText: string, command = '/access'): AccessCommand {
  const text = unescapeSlackText(rawText ?? '').trim();
  const tokens = tokenize(text);
  const invalid = (message: string): AccessCommand => ({ kind: 'invalid', message, usage: usage(command) });
  // Everything from token i on, spacing and newlines kept.
  const rest = (i: number): string => (tokens[i] ? text.slice(tokens[i].index).trim() : '');
  const requestId = (i: number, verb: string): string | AccessCommand => {
    const id = tokens[i]?.value;
    if (id === undefined) return invalid(`${verb} needs a request id: ${command} ${verb} <id>.`);
    // ULIDs are case-insensitive; ours are upper case.
    const upper = id.toUpperCase();
    if (!REQUEST_ID.test(upper)) return invalid(`"${id}" is not a request id (a 26-character ULID such as 01J9Z3N8W6Q4XK2V7R5T1M0ABC).`);
    return upper;
  };
  const noMore = (i: number, verb: string, what: string): AccessCommand | undefined =>
    tokens.length > i ? invalid(`${verb} takes ${what}; unexpected "${tokens[i]!.value}".`) : undefined;

  const verb = tokens[0]?.value.toLowerCase();
  switch (verb) {
    case undefined:
    case 'help':
      return { kind: 'help' };
    case 'list':
      return noMore(1, 'list', 'no arguments') ?? { kind: 'list' };
    case 'status':
    case 'cancel': {
      const id = requestId(1, verb);
      if (typeof id !== 'string') return id;
      return noMore(2, verb, 'only a request id') ?? { kind: verb, requestId: id };
    }
    case 'approve':
    case 'revoke': {
      const id = requestId(1, verb);
      if (typeof id !== 'string') return id;
      const comment = rest(2);
      if (!comment) return { kind: verb, requestId: id };
      const problem = freeTextProblem(comment, 'The comment');
      return problem ? invalid(problem) : { kind: verb, requestId: id, comment };
    }
    case 'deny': {
      const id = requestId(1, verb);
      if (typeof id !== 'string') return id;
      const reason = rest(2);
      if (!reason) return invalid(`deny needs a reason: ${command} deny <id> <reason…>.`);
      const problem = freeTextProblem(reason, 'The reason');
      return problem ? invalid(problem) : { kind: 'deny', requestId: id, reason };
    }
    case 'request':
      return parseRequest(tokens, rest, invalid, command);
    default:
      return invalid(`Unknown subcommand "${tokens[0]!.value}".`);
  }
}

function parseRequest(
  tokens: Token[],
  rest: (i: number) => string,
  invalid: (message: string) => AccessCommand,
  command: string,
): AccessCommand {
  const names = ['<account>', '<profile>', '<duration>', '<reason…>'];
  if (tokens.length < 5) {
    return invalid(`request needs ${names.join(' ')}; ${names[tokens.length - 1]} is missing: ${command} request production ReadOnly 2h investigating INC-42.`);
  }
  const account = tokens[1]!.value.toLowerCase();
  if (!ACCOUNT_REF.test(account)) return invalid(`"${tokens[1]!.value}" is not an account alias or a 12-digit account id.`);
  const profile = tokens[2]!.value;
  if (!NAME.test(profile)) return invalid(`"${profile}" is not a profile name (letters, digits, _ or -).`);
  const duration = parseDuration(tokens[3]!.value);
  if ('error' in duration) return invalid(duration.error);

  let next = 4;
  let ticket: string | undefined;
  const flag = tokens[next]!.value;
  if (flag === '--ticket' || flag.startsWith('--ticket=')) {
    ticket = flag === '--ticket' ? tokens[next + 1]?.value : flag.slice('--ticket='.length);
    next += flag === '--ticket' ? 2 : 1;
    if (!ticket || !TICKET_ID.test(ticket)) return invalid(`"--ticket" needs a ticket id of 1–64 letters, digits and ._#:/- characters.`);
  }
  const reason = rest(next);
  if (!reason) return invalid(`request needs a reason after the duration: ${command} request ${account} ${profile} ${tokens[3]!.value} <reason…>.`);
  const problem = freeTextProblem(reason, 'The reason');
  if (problem) return invalid(problem);
  return { kind: 'request', account, profile, durationMinutes: duration.minutes, reason, ...(ticket ? { ticket } : {}) };
}

// ---------------------------------------------------------------------------
// Form-encoded slash command body

/** The fields rolegate uses from a slash command POST (Slack's own names). */
export interface SlashCommandPayload {
  user_id: string;
  team_id: string;
  command: string;
  /** As Slack sent it (HTML-escaped); give it to parseAccessCommand. */
  text: string;
  response_url: string;
  trigger_id: string;
  channel_id: string;
}

const USER_ID = /^[UW][A-Z0-9]{2,}$/;
const TEAM_ID = /^[TE][A-Z0-9]{2,}$/;
const CHANNEL_ID = /^[CDG][A-Z0-9]{2,}$/;
/** Slack's trigger ids (`13345224609.738474920.8088…`), bounded: a slash command's is its job's key (DynamoDB: ≤ 2,048 bytes). */
const TRIGGER_ID = /^[A-Za-z0-9._-]{1,255}$/;

/**
 * True for the URLs Slack hands out for replies, https://hooks.slack.com/commands/… and …/actions/…;
 * anything else is never called (no SSRF through a payload, not even to another slack.com host).
 */
export function isSlackResponseUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' && url.hostname === 'hooks.slack.com' && url.port === '' && url.username === '' && url.password === '' && /^\/(commands|actions)\/[^/]/.test(url.pathname);
}

function required(value: string | null | undefined, field: string, pattern?: RegExp): string {
  if (typeof value !== 'string' || value.length === 0) throw new SlackPayloadError(field, 'is missing');
  if (value.length > 4000) throw new SlackPayloadError(field, 'is too long');
  if (pattern && !pattern.test(value)) throw new SlackPayloadError(field, 'has an unexpected format');
  return value;
}

function responseUrl(value: unknown, field: string): string {
  const url = required(typeof value === 'string' ? value : undefined, field);
  if (!isSlackResponseUrl(url)) throw new SlackPayloadError(field, 'is not a Slack reply URL (https://hooks.slack.com/commands/… or /actions/…)');
  return url;
}

/** Parses the verified, form-encoded body of a slash command. Throws SlackPayloadError. */
export function parseSlashCommand(body: string): SlashCommandPayload {
  const form = new URLSearchParams(body);
  const text = form.get('text') ?? '';
  if (text.length > 4000) throw new SlackPayloadError('text', 'is too long');
  return {
    user_id: required(form.get('user_id'), 'user_id', USER_ID),
    team_id: required(form.get('team_id'), 'team_id', TEAM_ID),
    command: required(form.get('command'), 'command', /^\/[\w-]{1,31}$/),
    text,
    response_url: responseUrl(form.get('response_url'), 'response_url'),
    trigger_id: required(form.get('trigger_id'), 'trigger_id', TRIGGER_ID),
    channel_id: required(form.get('channel_id'), 'channel_id', CHANNEL_ID),
  };
}

// ---------------------------------------------------------------------------
// Interaction payloads (`payload=<json>`)

/** A click on Approve or Deny in an approval message. */
export interface BlockAction {
  userId: string;
  teamId: string;
  actionId: typeof APPROVE_ACTION_ID | typeof DENY_ACTION_ID;
  /** The request id carried by the button. */
  value: string;
  responseUrl: string;
  triggerId: string;
  messageTs: string;
  channelId: string;
}

/** Where a deny-reason modal was opened from, so the outcome can be reported there. */
export interface ModalOrigin {
  responseUrl?: string;
  channelId?: string;
  messageTs?: string;
}

/** The reason typed into the deny modal. */
export interface DenyReasonSubmission {
  userId: string;
  teamId: string;
  /** The modal's view id: one submission per opened modal. */
  viewId: string;
  requestId: string;
  reason: string;
  origin?: ModalOrigin;
}

/** Answer a view_submission with this body to show the errors in the modal instead of closing it. */
export interface ViewErrorsResponse {
  response_action: 'errors';
  errors: Record<string, string>;
}

export type SlackInteraction =
  | { type: 'block_action'; action: BlockAction }
  | { type: 'deny_reason'; submission: DenyReasonSubmission }
  /** The typed reason is unacceptable: return `response` as the HTTP body (status 200). */
  | { type: 'deny_reason_invalid'; requestId: string; response: ViewErrorsResponse }
  /** Not for rolegate (a link button, another modal, a shortcut): acknowledge with 200 and do nothing. */
  | { type: 'ignored'; reason: string };

type Json = Record<string, unknown>;

function obj(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new SlackPayloadError(field, 'is not an object');
  return value as Json;
}

function str(value: unknown, field: string, pattern?: RegExp): string {
  return required(typeof value === 'string' ? value : undefined, field, pattern);
}

function optionalObj(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

/** Parses the verified, form-encoded body of an interaction. Throws SlackPayloadError. */
export function parseInteraction(body: string): SlackInteraction {
  const raw = new URLSearchParams(body).get('payload');
  if (!raw) throw new SlackPayloadError('payload', 'is missing');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new SlackPayloadError('payload', 'is not valid JSON');
  }
  const payload = obj(parsed, 'payload');
  const type = payload.type;
  if (type === 'block_actions') return parseBlockActions(payload);
  if (type === 'view_submission') return parseViewSubmission(payload);
  if (typeof type !== 'string') throw new SlackPayloadError('payload.type', 'is missing');
  return { type: 'ignored', reason: `interaction type ${type}` };
}

/**
 * The user's own workspace: `user.team_id`, or `team.id` (the workspace the
 * click happened in) where Slack leaves it out. In a channel shared with
 * another workspace the two differ, and slack.teamIds is about the user.
 */
function teamIdOf(payload: Json, user: Json): string {
  return str(user.team_id ?? optionalObj(payload.team)?.id, 'payload.user.team_id', TEAM_ID);
}

function parseBlockActions(payload: Json): SlackInteraction {
  const actions = payload.actions;
  if (!Array.isArray(actions) || actions.length === 0) throw new SlackPayloadError('payload.actions', 'is empty');
  const action = obj(actions[0], 'payload.actions[0]');
  const actionId = str(action.action_id, 'payload.actions[0].action_id');
  if (actionId !== APPROVE_ACTION_ID && actionId !== DENY_ACTION_ID) return { type: 'ignored', reason: `action ${actionId}` };

  const user = obj(payload.user, 'payload.user');
  const container = optionalObj(payload.container);
  const channel = optionalObj(payload.channel);
  const message = optionalObj(payload.message);
  return {
    type: 'block_action',
    action: {
      userId: str(user.id, 'payload.user.id', USER_ID),
      teamId: teamIdOf(payload, user),
      actionId,
      value: str(action.value, 'payload.actions[0].value', REQUEST_ID),
      responseUrl: responseUrl(payload.response_url, 'payload.response_url'),
      // The key of the click's job, as a slash command's trigger id is its job's key.
      triggerId: str(payload.trigger_id, 'payload.trigger_id', TRIGGER_ID),
      messageTs: str(container?.message_ts ?? message?.ts, 'payload.container.message_ts', /^\d+\.\d+$/),
      channelId: str(container?.channel_id ?? channel?.id, 'payload.container.channel_id', CHANNEL_ID),
    },
  };
}

function parseOrigin(metadata: string): { requestId: string; origin?: ModalOrigin } {
  if (!metadata.startsWith('{')) return { requestId: str(metadata, 'payload.view.private_metadata', REQUEST_ID) };
  let m: Json;
  try {
    m = obj(JSON.parse(metadata), 'payload.view.private_metadata');
  } catch {
    throw new SlackPayloadError('payload.view.private_metadata', 'is not valid JSON');
  }
  const origin: ModalOrigin = {};
  if (m.responseUrl !== undefined) origin.responseUrl = responseUrl(m.responseUrl, 'payload.view.private_metadata.responseUrl');
  if (m.channelId !== undefined) origin.channelId = str(m.channelId, 'payload.view.private_metadata.channelId', CHANNEL_ID);
  if (m.messageTs !== undefined) origin.messageTs = str(m.messageTs, 'payload.view.private_metadata.messageTs', /^\d+\.\d+$/);
  return { requestId: str(m.requestId, 'payload.view.private_metadata.requestId', REQUEST_ID), origin };
}

function parseViewSubmission(payload: Json): SlackInteraction {
  const view = obj(payload.view, 'payload.view');
  if (view.callback_id !== DENY_REASON_CALLBACK_ID) return { type: 'ignored', reason: `view ${String(view.callback_id)}` };
  const user = obj(payload.user, 'payload.user');
  const { requestId, origin } = parseOrigin(str(view.private_metadata, 'payload.view.private_metadata'));
  const values = obj(obj(view.state, 'payload.view.state').values, 'payload.view.state.values');
  const input = obj(obj(values[DENY_REASON_BLOCK_ID], `payload.view.state.values.${DENY_REASON_BLOCK_ID}`)[DENY_REASON_ACTION_ID], 'the reason input');
  const value = input.value;
  if (value !== null && value !== undefined && typeof value !== 'string') throw new SlackPayloadError('the reason input', 'is not text');
  const reason = (value ?? '').trim();
  const problem = freeTextProblem(reason, 'The reason');
  if (problem) return { type: 'deny_reason_invalid', requestId, response: { response_action: 'errors', errors: { [DENY_REASON_BLOCK_ID]: problem } } };
  return {
    type: 'deny_reason',
    submission: {
      userId: str(user.id, 'payload.user.id', USER_ID),
      teamId: teamIdOf(payload, user),
      viewId: str(view.id, 'payload.view.id', /^V[A-Z0-9]{2,64}$/),
      requestId,
      reason,
      ...(origin ? { origin } : {}),
    },
  };
}
