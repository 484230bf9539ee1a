import type { FetchLike } from '../../../src/adapters/slack/slack-client';

export interface RecordedCall {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

type Responder = (call: RecordedCall) => { status?: number; json?: unknown; text?: string; headers?: Record<string, string> } | undefined;

/**
 * A stand-in for slack.com: records every call and answers like the Web API
 * (ts values count up). No network.
 */
export function fakeSlack(override?: Responder) {
  const calls: RecordedCall[] = [];
  let ts = 0;
  const fetch: FetchLike = async (url, init) => {
    const headers = Object.fromEntries(Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]));
    const call: RecordedCall = { url, method: init.method ?? 'GET', headers, body: JSON.parse(String(init.body)) as Record<string, unknown> };
    calls.push(call);
    const custom = override?.(call);
    if (custom) {
      const payload = custom.text ?? JSON.stringify(custom.json ?? {});
      return new Response(payload, { status: custom.status ?? 200, headers: custom.headers ?? {} });
    }
    const method = url.replace('https://slack.com/api/', '');
    const answer: Record<string, unknown> = { ok: true };
    if (method === 'chat.postMessage') Object.assign(answer, { channel: call.body.channel, ts: `1767261600.00010${ts++}` });
    if (method === 'chat.update') Object.assign(answer, { channel: call.body.channel, ts: call.body.ts });
    if (method === 'conversations.open') Object.assign(answer, { channel: { id: `D0${String(call.body.users)}` } });
    if (method === 'views.open') Object.assign(answer, { view: { id: 'V0MODAL' } });
    if (url.startsWith('https://hooks.slack.com/')) return new Response('ok', { status: 200 });
    return new Response(JSON.stringify(answer), { status: 200, headers: { 'content-type': 'application/json' } });
  };
  return { fetch, calls };
}
