import { DynamoSlackStore } from '../../../src/adapters/dynamodb/slack-store';
import { SlackClient } from '../../../src/adapters/slack/slack-client';
import { SlackNotifier } from '../../../src/adapters/slack/slack-notifier';
import type { AccessRequest } from '../../../src/domain/model';
import type { NotificationKind } from '../../../src/domain/ports';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';
import { allItems } from '../../helpers/table';
import { fakeSlack } from '../../unit/slack/fake-slack';
import { activeRequest, pendingRequest, REQUEST_ID } from '../../unit/slack/fixtures';

/*
 * The approval message's reference (channel, ts and the request version it
 * shows) as the deployed worker keeps it: in the table, on the real engine.
 */

const settings = settingsWith((doc) => {
  (doc.rules as { id: string; slackChannel?: string }[]).find((r) => r.id === 'production-read')!.slackChannel = 'C0APPROVERS';
});

let h: Harness;
let store: DynamoSlackStore;

beforeEach(async () => {
  h = await harness({ settings });
  store = new DynamoSlackStore(h.requests.doc, h.tableName);
});
afterEach(() => h.close());

describe('DynamoSlackStore: approval message references', () => {
  it('reads back what it stored, with the version the message shows', async () => {
    expect(await store.get(REQUEST_ID)).toBeUndefined();
    await store.put(REQUEST_ID, { channel: 'C0APPROVERS', ts: '1767261600.000100', version: 3 });
    expect(await store.get(REQUEST_ID)).toEqual({ channel: 'C0APPROVERS', ts: '1767261600.000100', version: 3 });
    expect(await allItems(h)).toEqual([
      { pk: `REQ#${REQUEST_ID}`, sk: 'SLACK#MESSAGE', type: 'slack-message', channel: 'C0APPROVERS', ts: '1767261600.000100', version: 3 },
    ]);
  });

  it('never lets an older state overwrite a newer one; the same or a newer version replaces it', async () => {
    await store.put(REQUEST_ID, { channel: 'C0APPROVERS', ts: '1.0004', version: 4 });

    await store.put(REQUEST_ID, { channel: 'C0APPROVERS', ts: '1.0002', version: 2 });
    expect(await store.get(REQUEST_ID)).toEqual({ channel: 'C0APPROVERS', ts: '1.0004', version: 4 });

    await store.put(REQUEST_ID, { channel: 'C0APPROVERS', ts: '1.0004b', version: 4 });
    expect(await store.get(REQUEST_ID)).toEqual({ channel: 'C0APPROVERS', ts: '1.0004b', version: 4 });

    await store.put(REQUEST_ID, { channel: 'C0APPROVERS', ts: '1.0005', version: 5 });
    expect(await store.get(REQUEST_ID)).toEqual({ channel: 'C0APPROVERS', ts: '1.0005', version: 5 });
  });

  it('keeps the message of one request apart from another', async () => {
    await store.put(REQUEST_ID, { channel: 'C0APPROVERS', ts: '1.1', version: 1 });
    await store.put('01JOTHERREQUEST0000000000A', { channel: 'C0OTHER', ts: '2.2', version: 7 });
    expect(await store.get(REQUEST_ID)).toEqual({ channel: 'C0APPROVERS', ts: '1.1', version: 1 });
    expect(await store.get('01JOTHERREQUEST0000000000A')).toEqual({ channel: 'C0OTHER', ts: '2.2', version: 7 });
  });
});

describe('SlackNotifier on the table store', () => {
  function notifierOnTable() {
    const slack = fakeSlack();
    const notifier = new SlackNotifier({ slack: new SlackClient({ token: 'xoxb-test', fetch: slack.fetch }), settings, messages: store });
    const note = (kind: NotificationKind, request: AccessRequest) => notifier.notify({ kind, request, actor: ARN.leadAnna, at: '2026-01-01T10:00:00.000Z' });
    return { note, apis: () => slack.calls.map((c) => c.url.replace('https://slack.com/api/', '')) };
  }

  it('never shows an older state over a newer one when notifications arrive out of order', async () => {
    const { note, apis } = notifierOnTable();
    await note('request.created', pendingRequest());
    await note('request.active', activeRequest({ requester: ARN.bob, version: 4 }));
    await note('request.approved', pendingRequest({ status: 'APPROVED', version: 2, approvals: [ARN.leadAnna] }));

    expect(apis()).toEqual(['chat.postMessage', 'chat.update']);
    expect(await store.get(REQUEST_ID)).toEqual({ channel: 'C0APPROVERS', ts: '1767261600.000100', version: 4 });
  });

  it('updates the one message it posted when the announcement is delivered again', async () => {
    const { note, apis } = notifierOnTable();
    await note('request.created', pendingRequest());
    await note('request.created', pendingRequest());
    expect(apis()).toEqual(['chat.postMessage', 'chat.update']);
  });
});
