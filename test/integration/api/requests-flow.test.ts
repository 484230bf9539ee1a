import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { ARN, settingsWith } from '../../helpers/settings';
import { apiEvent, call, lambdaContext } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { allItems } from '../../helpers/table';

describe('HTTP API: request → approvals → APPROVED (real DynamoDB, whole middy chain)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  const ask = (caller: string, body: Record<string, unknown>) => call(h.api, { method: 'POST', path: '/requests', caller, body });

  it('takes a request id in lower case as the same request (ULID letters are case-insensitive)', async () => {
    const created = await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Read the logs' });
    const id = created.body.request.id as string;
    expect(id).not.toBe(id.toLowerCase());
    const shown = await call(h.api, { method: 'GET', path: `/requests/${id.toLowerCase()}`, caller: ARN.alice });
    expect(shown).toMatchObject({ status: 200, body: { request: { id, status: 'PENDING' } } });
    const approved = await call(h.api, { method: 'POST', path: `/requests/${id.toLowerCase()}/approve`, caller: ARN.leadAnna, body: {} });
    expect(approved).toMatchObject({ status: 200, body: { request: { id, status: 'APPROVED', approvals: [ARN.leadAnna] } } });
    expect(h.queue.ids).toEqual([id]);
  });

  it('needs two distinct approvers for the two-approval rule, refusing self-approval and double approval', async () => {
    const created = await ask(ARN.alice, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'Resize the fleet', ticket: 'OPS-42' });
    expect(created.status).toBe(201);
    expect(created.body.request).toMatchObject({
      status: 'PENDING',
      requester: ARN.alice,
      principalArn: ARN.alice,
      accountId: '333333333333',
      accountAlias: 'production',
      profile: 'EC2Admin',
      ruleId: 'admin-two-approvals',
      approvalsRequired: 2,
      approvals: [],
      decisionDeadline: '2026-03-02T10:00:00.000Z',
    });
    const id = created.body.request.id as string;
    expect(created.headers.location).toBe(`/requests/${id}`);
    const there = await call(h.api, { method: 'GET', path: created.headers.location!, caller: ARN.alice });
    expect(there.body.request).toEqual(created.body.request);

    const first = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.leadAnna, body: { comment: 'ok' } });
    expect(first.status).toBe(200);
    expect(first.body.request).toMatchObject({ status: 'PENDING', approvals: [ARN.leadAnna] });

    const self = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: 'arn:aws:sts::111111111111:assumed-role/ALICE/x', body: {} });
    expect(self.status).toBe(403);
    const selfUser = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.alice, body: {} });
    expect(selfUser).toMatchObject({ status: 403, body: { error: 'FORBIDDEN', message: 'Nobody may decide on their own request.' } });

    const again = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.leadAnna, body: {} });
    expect(again.status).toBe(409);
    // The detail lets a client that retried after a timeout tell "my approval counted" from a lost race.
    expect(again.body).toEqual({
      error: 'CONFLICT',
      message: `${ARN.leadAnna} has already approved request ${id}.`,
      details: [{ field: 'approvals', reason: 'already include the caller' }],
    });

    h.clock.advance(60_000);
    const second = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.sreSam, body: {} });
    expect(second.status).toBe(200);
    expect(second.body.request).toMatchObject({ status: 'APPROVED', approvals: [ARN.leadAnna, ARN.sreSam], approvedAt: '2026-03-02T09:01:00.000Z', endsAt: '2026-03-02T10:01:00.000Z' });
    expect(h.queue.ids).toEqual([id]);

    const late = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.leadBen, body: {} });
    expect(late).toMatchObject({ status: 409, body: { error: 'CONFLICT', message: `Request ${id} is no longer pending: it is APPROVED.` } });

    const shown = await call(h.api, { method: 'GET', path: `/requests/${id}`, caller: ARN.alice });
    expect(shown.status).toBe(200);
    expect(shown.body.request.status).toBe('APPROVED');
    expect(shown.body.decisions.map((d: { approver: string; decision: string }) => [d.approver, d.decision]).sort()).toEqual([
      [ARN.leadAnna, 'APPROVE'],
      [ARN.sreSam, 'APPROVE'],
    ]);
    expect(shown.body.events.map((e: { action: string; actor: string }) => [e.action, e.actor])).toEqual([
      ['REQUESTED', ARN.alice],
      ['APPROVAL_RECORDED', ARN.leadAnna],
      ['APPROVED', ARN.sreSam],
    ]);
    expect(h.notifier.sent.map((n) => n.kind)).toEqual(['request.created', 'request.approval_recorded', 'request.approved']);
  });

  it('ends the request on a single deny, which needs a reason', async () => {
    const { body } = await ask(ARN.alice, { accountId: '333333333333', profile: 'ReadOnly', durationMinutes: 30, reason: 'Debug' });
    const id = body.request.id as string;

    const noReason = await call(h.api, { method: 'POST', path: `/requests/${id}/deny`, caller: ARN.leadAnna, body: {} });
    expect(noReason.status).toBe(400);
    expect(noReason.body.details).toContainEqual({ field: 'comment', reason: 'is required' });

    const denied = await call(h.api, { method: 'POST', path: `/requests/${id}/deny`, caller: ARN.leadAnna, body: { comment: 'Use staging' } });
    expect(denied.body.request).toMatchObject({ status: 'DENIED' });
    const after = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.leadBen, body: {} });
    expect(after.status).toBe(409);
  });

  it('refuses an approval once the decision deadline has passed, before the sweeper times the request out', async () => {
    // production-read: one lead, 120 minutes to decide.
    const { body } = await ask(ARN.alice, { accountId: '333333333333', profile: 'ReadOnly', durationMinutes: 30, reason: 'Debug' });
    const id = body.request.id as string;
    h.clock.advance(120 * 60_000);

    const late = await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.leadAnna, body: {} });

    expect(late.status).toBe(409);
    expect(late.body).toEqual({
      error: 'CONFLICT',
      message: `Request ${id} passed its decision deadline (2026-03-02T11:00:00.000Z); it is timing out. Ask the requester to request again.`,
      details: [{ field: 'decisionDeadline', reason: 'has passed' }],
    });
    expect((await h.requests.get(id))!).toMatchObject({ status: 'PENDING', approvals: [] });
    expect((await h.requests.getDetail(id))!.decisions).toEqual([]);
  });

  it('lets only the requester cancel, and only while pending', async () => {
    const { body } = await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'Debug' });
    const id = body.request.id as string;
    expect((await call(h.api, { method: 'POST', path: `/requests/${id}/cancel`, caller: ARN.bob })).status).toBe(403);
    const cancelled = await call(h.api, { method: 'POST', path: `/requests/${id}/cancel`, caller: ARN.alice });
    expect(cancelled.body.request.status).toBe('CANCELLED');
    expect((await call(h.api, { method: 'POST', path: `/requests/${id}/cancel`, caller: ARN.alice })).status).toBe(409);
  });

  it('refuses to revoke a pending request (409), telling the requester to cancel it and an approver to deny it, and writes nothing', async () => {
    // A pending request holds no access to take away: the requester withdraws it (cancel), an approver refuses it (deny).
    const { body } = await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'Debug' });
    const id = body.request.id as string;
    const before = await allItems(h);

    for (const caller of [ARN.alice, ARN.leadAnna]) {
      const res = await call(h.api, { method: 'POST', path: `/requests/${id}/revoke`, caller, body: {} });
      expect(res.status).toBe(409);
      expect(res.body).toEqual({
        error: 'CONFLICT',
        message: `Request ${id} is still pending: cancel it (requester) or deny it (approver) instead.`,
        details: [{ field: 'status', reason: 'is PENDING' }],
      });
    }
    expect(await allItems(h)).toEqual(before);
  });

  // Only live access (APPROVED or ACTIVE) is prolonged; access that has ended is asked for again, as a new request.
  it.each<[string, (id: string) => Promise<unknown>]>([
    ['DENIED', (id) => call(h.api, { method: 'POST', path: `/requests/${id}/deny`, caller: ARN.leadAnna, body: { comment: 'Use staging' } })],
    ['CANCELLED', (id) => call(h.api, { method: 'POST', path: `/requests/${id}/cancel`, caller: ARN.alice })],
    [
      'EXPIRED',
      async (id) => {
        await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.leadAnna, body: {} });
        await provisionRequest(h.deps, id);
        h.clock.advance(31 * 60_000);
        await sweep(h.deps);
      },
    ],
  ])('refuses to extend a request that ended %s (409 naming its status), and writes nothing', async (status, end) => {
    const { body } = await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'Debug' });
    const id = body.request.id as string;
    await end(id);
    expect((await h.requests.get(id))!.status).toBe(status);
    const before = await allItems(h);

    const res = await call(h.api, { method: 'POST', path: `/requests/${id}/extend`, caller: ARN.alice, body: { durationMinutes: 30, reason: 'More time' } });

    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: 'CONFLICT',
      message: `Only live access can be extended; request ${id} is ${status}.`,
      details: [{ field: 'status', reason: `is ${status}` }],
    });
    expect(await allItems(h)).toEqual(before);
  });

  it("records an extension on the original's trail too: who asked, when, why, and which request carries it", async () => {
    const { body } = await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'Debug' });
    const id = body.request.id as string;
    await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.leadAnna, body: {} });
    await provisionRequest(h.deps, id);
    h.clock.advance(10 * 60_000);

    const res = await call(h.api, { method: 'POST', path: `/requests/${id}/extend`, caller: ARN.alice, body: { durationMinutes: 45, reason: 'More time' } });

    expect(res.status).toBe(201);
    const detail = await call(h.api, { method: 'GET', path: `/requests/${id}`, caller: ARN.alice });
    expect(detail.body.events.filter((e: { action: string }) => e.action === 'EXTENSION_REQUESTED')).toEqual([
      expect.objectContaining({ requestId: id, actor: ARN.alice, at: '2026-03-02T09:10:00.000Z', comment: 'More time', data: { extensionId: res.body.request.id, durationMinutes: 45 } }),
    ]);
    expect(detail.body.request.version).toBe(3);
  });

  it('approves at once where the rule says so and hands the request to provisioning', async () => {
    const created = await ask(ARN.bob, { account: 'staging', profile: 'ReadOnly', durationMinutes: 120, reason: 'Check a deploy' });
    expect(created.status).toBe(201);
    expect(created.body.request).toMatchObject({ status: 'APPROVED', approvalsRequired: 0, endsAt: '2026-03-02T11:00:00.000Z' });
    expect(h.queue.ids).toEqual([created.body.request.id]);
    const detail = await call(h.api, { method: 'GET', path: `/requests/${created.body.request.id}`, caller: ARN.bob });
    expect(detail.body.events.map((e: { action: string }) => e.action)).toEqual(['REQUESTED', 'AUTO_APPROVED']);
  });

  it('lets an application owner request for a workload role only where the rule allows it', async () => {
    const ok = await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Billing job', principalArn: ARN.appRole });
    expect(ok.status).toBe(201);
    expect(ok.body.request).toMatchObject({ requester: ARN.alice, principalArn: ARN.appRole });
    const refused = await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'x', principalArn: ARN.otherRole });
    expect(refused.status).toBe(403);
  });

  it('lists mine and awaiting-my-decision newest first with a cursor', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1000);
      ids.push((await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: `r${i}` })).body.request.id);
    }
    const page1 = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.alice, query: { limit: '2' } });
    expect(page1.status).toBe(200);
    expect(page1.body.items.map((r: { id: string }) => r.id)).toEqual([ids[4], ids[3]]);
    const page2 = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.alice, query: { limit: '2', cursor: page1.body.cursor } });
    expect(page2.body.items.map((r: { id: string }) => r.id)).toEqual([ids[2], ids[1]]);

    await call(h.api, { method: 'POST', path: `/requests/${ids[4]}/approve`, caller: ARN.leadAnna });
    const awaiting = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, query: { view: 'awaiting', limit: '10' } });
    expect(awaiting.body.items.map((r: { id: string }) => r.id)).toEqual([ids[3], ids[2], ids[1], ids[0]]);
    const bobSees = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.bob, query: { view: 'all' } });
    expect(bobSees.body.items).toEqual([]);
    const pendingToo = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, query: { view: 'awaiting', status: 'PENDING' } });
    expect(pendingToo.body.items).toHaveLength(4);
  });

  it('refuses a query parameter given twice, naming it, rather than read one of the values (API Gateway joins them: "1,2")', async () => {
    const event = apiEvent({ method: 'GET', path: '/requests', caller: ARN.alice, query: { limit: '1,2', view: 'all,mine', status: 'PENDING' } });
    event.rawQueryString = 'limit=1&limit=2&view=all&status=PENDING&view=mine';
    const reply = await h.api(event, lambdaContext());
    expect(reply.statusCode).toBe(400);
    expect(JSON.parse(reply.body as string)).toMatchObject({
      error: 'VALIDATION_FAILED',
      message: 'Give each query parameter once.',
      details: [
        { field: 'limit', reason: 'is given more than once' },
        { field: 'view', reason: 'is given more than once' },
      ],
    });
    // Each once: the same values are fine.
    expect((await call(h.api, { method: 'GET', path: '/requests', caller: ARN.alice, query: { limit: '2', view: 'mine', status: 'PENDING' } })).status).toBe(200);
  });

  it('refuses a cursor carried over to another listing (400), which would go on from the middle of it', async () => {
    for (let i = 0; i < 3; i++) {
      h.clock.advance(1000);
      await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: `r${i}` });
    }
    const list = (query: Record<string, string>) => call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, query });
    const page1 = await list({ view: 'all', limit: '1' });
    expect(page1.body.cursor).toEqual(expect.any(String));

    const awaiting = await list({ view: 'awaiting', cursor: page1.body.cursor });
    const active = await list({ view: 'all', status: 'ACTIVE', cursor: page1.body.cursor });

    expect(awaiting.status).toBe(400);
    expect(awaiting.body.details).toEqual([{ field: 'cursor', reason: 'continues another listing (view=all, status=PENDING): give its view and status, or start without a cursor' }]);
    expect(active.status).toBe(400);
    expect((await list({ view: 'all', status: 'PENDING', limit: '5', cursor: page1.body.cursor })).body.items).toHaveLength(2);
    const mine = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.alice, query: { status: 'PENDING', limit: '1' } });
    expect((await call(h.api, { method: 'GET', path: '/requests', caller: ARN.alice, query: { cursor: mine.body.cursor } })).body.details).toEqual([
      { field: 'cursor', reason: 'continues another listing (view=mine, status=PENDING): give its view and status, or start without a cursor' },
    ]);
  });

  it('refuses an empty cursor (400) rather than start the listing over, and a body on a route that takes none', async () => {
    const empty = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.alice, query: { view: 'all', cursor: '' } });
    expect(empty.status).toBe(400);
    expect(empty.body.details).toEqual([{ field: 'cursor', reason: 'must not be empty: leave it out for the first page' }]);

    // A body is no way to give a listing's input: read as none, it would have listed the caller's own requests.
    const withBody = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, body: { view: 'all', status: 'ACTIVE' } });
    expect(withBody.status).toBe(400);
    expect(withBody.body).toEqual({
      error: 'VALIDATION_FAILED',
      message: 'This route takes no body: give its input in the query, or send none.',
      details: [{ field: '(body)', reason: 'this route takes no body' }],
    });
    // Blank is no body.
    expect((await call(h.api, { method: 'GET', path: '/catalog', caller: ARN.alice, rawBody: ' \n' })).status).toBe(200);
  });

  it('leaves out of awaiting a request past its decision deadline, which the sweeper has yet to time out (an approval is refused)', async () => {
    const id = (await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Read the logs' })).body.request.id as string;
    const { decisionDeadline } = (await h.requests.get(id))!;
    const awaiting = async () => (await call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, query: { view: 'awaiting' } })).body.items.map((r: { id: string }) => r.id);
    h.clock.set(new Date(Date.parse(decisionDeadline) - 1).toISOString());
    expect(await awaiting()).toEqual([id]);

    h.clock.set(decisionDeadline);

    expect(await awaiting()).toEqual([]);
    expect((await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.leadAnna, body: {} })).status).toBe(409);
  });

  it('leaves out of awaiting a request the caller approved that still waits for a second approver, and keeps it for that one', async () => {
    // admin-two-approvals: after anna's approval the request is still PENDING, but nothing is left for anna to decide.
    const { body } = await ask(ARN.alice, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'Resize the fleet' });
    const id = body.request.id as string;
    await call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller: ARN.leadAnna, body: {} });

    const anna = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, query: { view: 'awaiting' } });
    const sam = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.sreSam, query: { view: 'awaiting' } });

    expect(anna.body.items).toEqual([]);
    expect(sam.body.items.map((r: { id: string }) => r.id)).toEqual([id]);
    expect(sam.body.items[0]).toMatchObject({ status: 'PENDING', approvals: [ARN.leadAnna] });
  });

  it('never shows a workload role that is also an approver the requests made for it, only those for others', async () => {
    // The app-* roles may approve production-read requests too, but never one made for them (a grantee may not decide):
    // awaiting offers only what the caller may decide.
    h.deps.settings = settingsWith((doc) => {
      const rule = (doc.rules as { id: string; approvers: string[] }[]).find((r) => r.id === 'production-read')!;
      rule.approvers.push('arn:aws:iam::111111111111:role/app-*');
    });
    const forApp = (await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Billing job', principalArn: ARN.appRole })).body.request.id as string;
    h.clock.advance(1000);
    const forBob = (await ask(ARN.bob, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Read the logs' })).body.request.id as string;

    const app = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.appRole, query: { view: 'awaiting' } });
    const anna = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, query: { view: 'awaiting' } });

    expect(app.status).toBe(200);
    expect(app.body.items.map((r: { id: string }) => r.id)).toEqual([forBob]);
    expect(anna.body.items.map((r: { id: string }) => r.id)).toEqual([forBob, forApp]);
  });

  it('refuses view=awaiting with another status than PENDING (400), instead of answering pending requests as those', async () => {
    const res = await call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, query: { view: 'awaiting', status: 'ACTIVE' } });

    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: 'VALIDATION_FAILED',
      message: 'view=awaiting lists pending requests only: leave status out, or use view=all.',
      details: [{ field: 'status', reason: 'must be PENDING (or absent) with view=awaiting, not ACTIVE' }],
    });
  });

  it('shows the catalog of what the caller may request', async () => {
    const res = await call(h.api, { method: 'GET', path: '/catalog', caller: ARN.alice });
    expect(res.status).toBe(200);
    expect(res.body.entries).toContainEqual(expect.objectContaining({ accountAlias: 'production', profile: 'EC2Admin', approvalsRequired: 2, maxDurationMinutes: 120 }));
  });

  it('hides a request from principals who are neither party nor approver', async () => {
    const { body } = await ask(ARN.alice, { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'x' });
    const res = await call(h.api, { method: 'GET', path: `/requests/${body.request.id}`, caller: ARN.bob });
    expect(res.status).toBe(403);
  });
});
