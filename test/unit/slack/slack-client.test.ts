import { inspect } from 'node:util';
import { denyReasonModal } from '../../../src/adapters/slack/blocks';
import { SLACK_RATE_LIMIT_ATTEMPTS, SlackApiError, SlackClient } from '../../../src/adapters/slack/slack-client';
import { REQUEST_ID } from './fixtures';
import { fakeSlack } from './fake-slack';

const TOKEN = 'xoxb-000000000-111111111-secretsecretsecret';
const message = { text: 'hello', blocks: [{ type: 'section' as const, text: { type: 'mrkdwn' as const, text: 'hello' } }] };

describe('SlackClient', () => {
  it('posts a message with the bot token and returns where it landed', async () => {
    const slack = fakeSlack();
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });

    const ref = await client.postMessage('C0APPROVERS', message);

    expect(ref).toEqual({ channel: 'C0APPROVERS', ts: '1767261600.000100' });
    expect(slack.calls).toEqual([
      {
        url: 'https://slack.com/api/chat.postMessage',
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${TOKEN}` },
        body: { channel: 'C0APPROVERS', text: 'hello', blocks: message.blocks, unfurl_links: false, unfurl_media: false },
      },
    ]);
  });

  it('updates a message, opens a modal and a direct message', async () => {
    const slack = fakeSlack();
    const client = new SlackClient({ token: async () => TOKEN, fetch: slack.fetch });

    await expect(client.updateMessage({ channel: 'C0APPROVERS', ts: '1.2' }, message)).resolves.toEqual({ channel: 'C0APPROVERS', ts: '1.2' });
    await expect(client.openView('trigger-1', denyReasonModal(REQUEST_ID))).resolves.toEqual({ viewId: 'V0MODAL' });
    await expect(client.openDirectMessage('U0ALICE')).resolves.toBe('D0U0ALICE');

    expect(slack.calls.map((c) => [c.url, c.body])).toEqual([
      ['https://slack.com/api/chat.update', { channel: 'C0APPROVERS', ts: '1.2', text: 'hello', blocks: message.blocks }],
      ['https://slack.com/api/views.open', { trigger_id: 'trigger-1', view: denyReasonModal(REQUEST_ID) }],
      ['https://slack.com/api/conversations.open', { users: 'U0ALICE' }],
    ]);
    expect(slack.calls.every((c) => c.headers.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('throws the Slack error code of an ok:false answer, without the token', async () => {
    const slack = fakeSlack(() => ({ json: { ok: false, error: 'channel_not_found' } }));
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });

    const error = await client.postMessage('C0GONE', message).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(SlackApiError);
    expect(error).toMatchObject({ method: 'chat.postMessage', code: 'channel_not_found', message: 'Slack chat.postMessage failed: channel_not_found' });
    expect(JSON.stringify(error) + String(error) + (error as Error).stack).not.toContain(TOKEN);
  });

  it('reports rate limiting with the wait Slack asks for, without waiting when that is longer than the call may take', async () => {
    const slack = fakeSlack(() => ({ status: 429, text: '', headers: { 'retry-after': '30' } }));
    const sleep = jest.fn(async () => undefined);
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch, sleep });
    await expect(client.updateMessage({ channel: 'C1', ts: '1.2' }, message)).rejects.toMatchObject({ code: 'ratelimited', httpStatus: 429, retryAfter: 30 });
    expect(slack.calls).toHaveLength(1);
    expect(sleep).not.toHaveBeenCalled();
  });

  describe('a notification call meeting the rate limit', () => {
    /** A clock that only the client's sleeps move. */
    function clocked() {
      let t = 0;
      const waits: number[] = [];
      return { now: () => t, sleep: async (ms: number) => { waits.push(ms); t += ms; }, waits };
    }

    it.each([
      ['chat.postMessage', (c: SlackClient) => c.postMessage('C0APPROVERS', message), { channel: 'C0APPROVERS', ts: '1767261600.000100' }],
      ['chat.update', (c: SlackClient) => c.updateMessage({ channel: 'C0APPROVERS', ts: '1.2' }, message), { channel: 'C0APPROVERS', ts: '1.2' }],
      ['conversations.open', (c: SlackClient) => c.openDirectMessage('U0ALICE'), 'D0U0ALICE'],
    ] as const)('%s is sent again after the Retry-After Slack names, and succeeds', async (method, send, answer) => {
      let limited = 1;
      const slack = fakeSlack(() => (limited-- > 0 ? { status: 429, text: '', headers: { 'retry-after': '2' } } : undefined));
      const clock = clocked();
      const client = new SlackClient({ token: TOKEN, fetch: slack.fetch, ...clock });

      await expect(send(client)).resolves.toEqual(answer);

      expect(clock.waits).toEqual([2000]);
      expect(slack.calls.map((c) => c.url)).toEqual([`https://slack.com/api/${method}`, `https://slack.com/api/${method}`]);
      expect(slack.calls[1]!.body).toEqual(slack.calls[0]!.body);
    });

    it.each([
      ['no Retry-After', {}],
      ['a blank Retry-After', { 'retry-after': ' ' }],
      ['Retry-After: 0', { 'retry-after': '0' }],
    ])('waits a second after a 429 with %s', async (_what, headers: Record<string, string>) => {
      let limited = 1;
      const slack = fakeSlack(() => (limited-- > 0 ? { status: 429, text: '', headers } : undefined));
      const clock = clocked();
      await new SlackClient({ token: TOKEN, fetch: slack.fetch, ...clock }).postMessage('C0APPROVERS', message);
      expect(clock.waits).toEqual([1000]);
      expect(slack.calls).toHaveLength(2);
    });

    it(`gives up after ${SLACK_RATE_LIMIT_ATTEMPTS} attempts, with Slack's error`, async () => {
      const slack = fakeSlack(() => ({ status: 429, text: '', headers: { 'retry-after': '1' } }));
      const clock = clocked();
      const client = new SlackClient({ token: TOKEN, fetch: slack.fetch, ...clock });

      await expect(client.postMessage('C0APPROVERS', message)).rejects.toMatchObject({ code: 'ratelimited', httpStatus: 429 });

      expect(slack.calls).toHaveLength(SLACK_RATE_LIMIT_ATTEMPTS);
      expect(clock.waits).toEqual(Array(SLACK_RATE_LIMIT_ATTEMPTS - 1).fill(1000));
    });

    it('does not wait past the call\'s time (timeoutMs, retries included)', async () => {
      const slack = fakeSlack(() => ({ status: 429, text: '', headers: { 'retry-after': '5' } }));
      const clock = clocked();
      const client = new SlackClient({ token: TOKEN, fetch: slack.fetch, timeoutMs: 10_000, ...clock });

      await expect(client.postMessage('C0APPROVERS', message)).rejects.toMatchObject({ code: 'ratelimited' });

      // 5 s in, a second 5 s wait would leave less than the second a call needs.
      expect(clock.waits).toEqual([5000]);
      expect(slack.calls).toHaveLength(2);
    });

    it('counts reading the bot token (SSM, on a first call) in the call\'s time: a 429 after a slow read is not waited out, and a read that took it all sends nothing', async () => {
      /** A bot token whose read takes `ms` of the client's clock. */
      const readIn = (clock: ReturnType<typeof clocked>, ms: number) => async () => {
        await clock.sleep(ms);
        return TOKEN;
      };
      const clock = clocked();
      const limited = fakeSlack(() => ({ status: 429, text: '', headers: { 'retry-after': '2' } }));
      const afterSlowRead = new SlackClient({ token: readIn(clock, 7_500), fetch: limited.fetch, timeoutMs: 10_000, ...clock });

      await expect(afterSlowRead.postMessage('C0APPROVERS', message)).rejects.toMatchObject({ code: 'ratelimited' });
      // 7.5 s in: a 2 s wait would leave less than the second a call needs.
      expect(limited.calls).toHaveLength(1);
      expect(clock.waits).toEqual([7_500]);

      const late = clocked();
      const slack = fakeSlack();
      const readTakingItAll = new SlackClient({ token: readIn(late, 10_000), fetch: slack.fetch, timeoutMs: 10_000, ...late });
      await expect(readTakingItAll.postMessage('C0APPROVERS', message)).rejects.toMatchObject({ code: 'no_time_left', method: 'chat.postMessage' });
      expect(slack.calls).toEqual([]);
    });

    it('does not retry a 5xx, after which Slack may have posted, nor a modal, whose trigger expires in 3 s', async () => {
      const failing = fakeSlack(() => ({ status: 503, text: 'unavailable' }));
      const clock = clocked();
      await expect(new SlackClient({ token: TOKEN, fetch: failing.fetch, ...clock }).postMessage('C0APPROVERS', message)).rejects.toMatchObject({ httpStatus: 503 });
      expect(failing.calls).toHaveLength(1);

      const limited = fakeSlack(() => ({ status: 429, text: '', headers: { 'retry-after': '1' } }));
      await expect(new SlackClient({ token: TOKEN, fetch: limited.fetch, ...clock }).openView('trigger-1', denyReasonModal(REQUEST_ID))).rejects.toMatchObject({ code: 'ratelimited' });
      expect(limited.calls).toHaveLength(1);
      expect(clock.waits).toEqual([]);
    });
  });

  it('reports an HTTP error without a JSON body', async () => {
    const slack = fakeSlack(() => ({ status: 502, text: '<html>Bad gateway</html>' }));
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });
    await expect(client.openDirectMessage('U0ALICE')).rejects.toMatchObject({ code: 'http_502', httpStatus: 502 });
  });

  it('keeps the token out of JSON and inspection of the client', () => {
    const client = new SlackClient({ token: TOKEN, fetch: fakeSlack().fetch });
    expect(JSON.stringify(client)).not.toContain(TOKEN);
    expect(inspect(client, { depth: 5 })).not.toContain(TOKEN);
  });

  it('replies through a response_url without the bot token', async () => {
    const slack = fakeSlack();
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });

    await client.postToResponseUrl('https://hooks.slack.com/commands/T1/2/3', { response_type: 'ephemeral', text: 'Done.' });

    expect(slack.calls).toEqual([
      { url: 'https://hooks.slack.com/commands/T1/2/3', method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: { response_type: 'ephemeral', text: 'Done.' } },
    ]);
  });

  it('refuses to send a reply anywhere but Slack', async () => {
    const slack = fakeSlack();
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });
    await expect(client.postToResponseUrl('https://attacker.example/hook', { response_type: 'ephemeral', text: 'x' })).rejects.toMatchObject({ code: 'not_a_slack_url' });
    expect(slack.calls).toEqual([]);
  });

  it('surfaces an expired response_url', async () => {
    const slack = fakeSlack(() => ({ status: 404, text: 'expired_url' }));
    const client = new SlackClient({ token: TOKEN, fetch: slack.fetch });
    await expect(client.postToResponseUrl('https://hooks.slack.com/actions/T1/2/3', { response_type: 'ephemeral', text: 'x' })).rejects.toMatchObject({
      code: 'expired_url',
      httpStatus: 404,
    });
  });
});
