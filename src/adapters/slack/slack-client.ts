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
  /** The bot token (xoxb-…), or a function that loads it (e.g. from SSM, kept five minutes). */
  token: string | (() => Promise<string>);
  fetch?: FetchLike;
  /**
   * Per call, retries included. Slack work runs after the 3-second
   * acknowledgement, so this may be generous; the worker's time budget
   * counts on it (src/handlers/worker.ts).
   */
  timeoutMs?: number;
  baseUrl?: string;
  /** Injected in tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Attempts of a rate-limited notification call (chat.postMessage, chat.update, conversations.open). */
export const SLACK_RATE_LIMIT_ATTEMPTS = 3;

export class SlackClient implements SlackApi {
  readonly #token: string | (() => Promise<string>);
  readonly #fetch: FetchLike;
  readonly #timeoutMs: number;
  readonly #baseUrl: string;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;

  constructor(options: SlackClientOptions) {
    this.#token = options.token;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#baseUrl = (options.baseUrl ?? 'https://slack.com/api').replace(/\/$/, '');
    this.#sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.#now = options.now ?? Date.now;
  }

  async postMessage(channel: string, message: SlackMessage): Promise<SlackMessageRef> {
    const res = await this.callPolitely('chat.postMessage', { channel, text: message.text, blocks: message.blocks, unfurl_links: false, unfurl_media: false });
    return { channel: stringField(res, 'channel', 'chat.postMessage'), ts: stringField(res, 'ts', 'chat.postMessage') };
  }

  async updateMessage(ref: SlackMessageRef, message: SlackMessage): Promise<SlackMessageRef> {
    const res = await this.callPolitely('chat.update', { channel: ref.channel, ts: ref.ts, text: message.text, blocks: message.blocks });
    return { channel: stringField(res, 'channel', 'chat.update'), ts: stringField(res, 'ts', 'chat.update') };
  }

  async openView(triggerId: string, view: ModalView): Promise<{ viewId: string }> {
    const res = await this.call('views.open', { trigger_id: triggerId, view });
    const v = res.view as { id?: unknown } | undefined;
    if (typeof v?.id !== 'string') throw new SlackApiError('views.open', 'unexpected_response');
    return { viewId: v.id };
  }

  async openDirectMessage(userId: string): Promise<string> {
    const res = await this.callPolitely('conversations.open', { users: userId });
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

  /**
   * A notification's call: a burst of requests for one channel meets Slack's
   * rate limit (HTTP 429, which Slack answers without acting), and a lost
   * approval message leaves approvers with nothing to click. So a 429 is
   * retried after the Retry-After Slack names, while that fits the call's
   * time (timeoutMs, retries included). Nothing else is retried: after a 5xx
   * or a timeout Slack may have posted, and a second post is a duplicate.
   * Not for views.open, whose trigger expires 3 s after the click.
   */
  private async callPolitely(method: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const deadline = this.#now() + this.#timeoutMs;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.call(method, body, deadline - this.#now());
      } catch (e) {
        // At least a second: "retry after 0" from a rate limit is a request to slow down all the same.
        const wait = e instanceof SlackApiError && e.code === 'ratelimited' ? Math.max(e.retryAfter ?? 1, 1) * 1000 : undefined;
        // What is left after the wait must still allow a call a second to answer.
        if (wait === undefined || attempt >= SLACK_RATE_LIMIT_ATTEMPTS || this.#now() + wait + 1000 > deadline) throw e;
        await this.#sleep(wait);
      }
    }
  }

  private async call(method: string, body: Record<string, unknown>, timeoutMs = this.#timeoutMs): Promise<Record<string, unknown>> {
    const started = this.#now();
    const token = typeof this.#token === 'function' ? await this.#token() : this.#token;
    // Reading the token (SSM, on a first call or after five minutes) takes from the call's time, which the worker's reserve counts on.
    const left = timeoutMs - (this.#now() - started);
    if (left <= 0) throw new SlackApiError(method, 'no_time_left');
    const res = await this.#fetch(`${this.#baseUrl}/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
      redirect: 'error',
      signal: AbortSignal.timeout(left),
    });
    if (res.status === 429) {
      await res.body?.cancel().catch(() => undefined);
      // Seconds; a missing or blank header is no answer (Number('') would read as 0).
      const header = res.headers.get('retry-after')?.trim();
      const retryAfter = header ? Number(header) : NaN;
      throw new SlackApiError(method, 'ratelimited', 429, Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined);
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
