import type { ModalView, SlackMessage, SlackReply } from './blocks';
import { isSlackResponseUrl } from './commands';

/*
 * The few Slack Web API methods rolegate calls, over fetch (no SDK: a cold
 * start pays for every kilobyte). The bot token is held in a private field
 * and never appears in an error, a log line or JSON.stringify(client).
 */

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** Slack answered `ok: false` (or an HTTP error). `code` is Slack's error code, e.g. `channel_not_found`. */
export class SlackApiError extends Error {
  constructor(
    readonly method: string,
    readonly code: string,
    readonly httpStatus?: number,
    /** Seconds Slack asks to wait (HTTP 429). */
    readonly retryAfter?: number,
  ) {
    super(`Slack ${method} failed: ${code}`);
    this.name = 'SlackApiError';
  }
}

export interface SlackMessageRef {
  channel: string;
  ts: string;
}

/** What SlackNotifier and the Slack handler need; SlackClient implements it, tests fake it. */
export interface SlackApi {
  postMessage(channel: string, message: SlackMessage): Promise<SlackMessageRef>;
  updateMessage(ref: SlackMessageRef, message: SlackMessage): Promise<SlackMessageRef>;
  openView(triggerId: string, view: ModalView): Promise<{ viewId: string }>;
  /** The DM channel with a user (conversations.open). */
  openDirectMessage(userId: string): Promise<string>;
  postToResponseUrl(responseUrl: string, reply: SlackReply): Promise<void>;
}

export interface SlackClientOptions {
  /** The bot token (xoxb-…), or a function that loads it (e.g. from SSM, once per cold start). */
  token: string | (() => Promise<string>);
  fetch?: FetchLike;
  /** Per call. Slack work runs after the 3-second acknowledgement, so this may be generous. */
  timeoutMs?: number;
  baseUrl?: string;
}

export class SlackClient implements SlackApi {
  readonly #token: string | (() => Promise<string>);
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;
  readonly #baseUrl: string;

  constructor(options: SlackClientOptions) {
    this.#token = options.token;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#baseUrl = (options.baseUrl ?? 'https://slack.com/api').replace(/\/$/, '');
  }

  async postMessage(channel: string, message: SlackMessage): Promise<SlackMessageRef> {
    const res = await this.call('chat.postMessage', { channel, text: message.text, blocks: message.blocks, unfurl_links: false, unfurl_media: false });
    return { channel: stringField(res, 'channel', 'chat.postMessage'), ts: stringField(res, 'ts', 'chat.postMessage') };
  }

  async updateMessage(ref: SlackMessageRef, message: SlackMessage): Promise<SlackMessageRef> {
    const res = await this.call('chat.update', { channel: ref.channel, ts: ref.ts, text: message.text, blocks: message.blocks });
    return { channel: stringField(res, 'channel', 'chat.update'), ts: stringField(res, 'ts', 'chat.update') };
  }

  async openView(triggerId: string, view: ModalView): Promise<{ viewId: string }> {
    const res = await this.call('views.open', { trigger_id: triggerId, view });
    const v = res.view as { id?: unknown } | undefined;
    if (typeof v?.id !== 'string') throw new SlackApiError('views.open', 'unexpected_response');
    return { viewId: v.id };
  }

  async openDirectMessage(userId: string): Promise<string> {
    const res = await this.call('conversations.open', { users: userId });
    const c = res.channel as { id?: unknown } | undefined;
    if (typeof c?.id !== 'string') throw new SlackApiError('conversations.open', 'unexpected_response');
    return c.id;
  }

  /** Replies through a payload's response_url (valid 30 minutes, 5 uses); needs no token. */
  async postToResponseUrl(responseUrl: string, reply: SlackReply): Promise<void> {
    // The URL came from a payload: never send anything anywhere but Slack.
    if (!isSlackResponseUrl(responseUrl)) throw new SlackApiError('response_url', 'not_a_slack_url');
    const res = await this.#fetch(responseUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(reply),
      redirect: 'error',
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    const text = await res.text().catch(() => '');
    if (!res.ok) throw new SlackApiError('response_url', errorCode(text) ?? `http_${res.status}`, res.status);
    // Slack answers "ok" or {"ok":true}; {"ok":false,"error":…} is a failure even with 200.
    const code = text.startsWith('{') ? errorCode(text) : undefined;
    if (code) throw new SlackApiError('response_url', code, res.status);
  }

  private async call(method: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const token = typeof this.#token === 'function' ? await this.#token() : this.#token;
    const res = await this.#fetch(`${this.#baseUrl}/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
      redirect: 'error',
      signal: AbortSignal.timeout(this.#timeoutMs),
    });
    if (res.status === 429) {
      await res.body?.cancel().catch(() => undefined);
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new SlackApiError(method, 'ratelimited', 429, Number.isFinite(retryAfter) ? retryAfter : undefined);
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new SlackApiError(method, `http_${res.status}`, res.status);
    }
    const payload = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    if (payload.ok !== true) {
      throw new SlackApiError(method, typeof payload.error === 'string' ? payload.error : `http_${res.status}`, res.status);
    }
    return payload;
  }
}

function stringField(res: Record<string, unknown>, field: string, method: string): string {
  const v = res[field];
  if (typeof v !== 'string') throw new SlackApiError(method, 'unexpected_response');
  return v;
}

function errorCode(text: string): string | undefined {
  if (!text.startsWith('{')) return text && text !== 'ok' ? text.slice(0, 100) : undefined;
  try {
    const j = JSON.parse(text) as { ok?: unknown; error?: unknown };
    if (j.ok === false) return typeof j.error === 'string' ? j.error : 'unknown_error';
  } catch {
    return 'invalid_response';
  }
  return undefined;
}
