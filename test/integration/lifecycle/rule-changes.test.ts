import type { AccessRequest } from '../../../src/domain/model';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { call } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { ARN, settingsWith } from '../../helpers/settings';
import { allItems } from '../../helpers/table';
import type { RecordingIdentityGranter, RecordingProvisioner } from '../../helpers/recording-provisioner';

/*
 * Access is approved (or, after a failure, approved again) under the rule as
 * it stands at that moment: a configuration change that took the requester,
 * the account, the profile or the grantee out of the request's rule refuses
 * the approval and the retry with a 403 and changes nothing, while a deny
 * still ends the request. On DynamoDB Local, through the HTTP API.
 */

type Doc = Record<string, any>;
const rule = (doc: Doc, id: string): Doc => doc.rules.find((r: Doc) => r.id === id);
/** Only leads may still ask for production access under production-read. */
const leadsOnly = (doc: Doc) => {
  rule(doc, 'production-read').requesters = ['arn:aws:iam::111111111111:user/lead-*'];
};

let h: Harness;
beforeEach(async () => {
  h = await harness();
});
afterEach(async () => {
  await h.close();
});

const pending = (principalArn?: string) =>
  createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs', ...(principalArn ? { principalArn } : {}) });

/** No role written, no identity-side policy, no grant item: nothing was granted. */
async function expectNothingGranted(): Promise<void> {
  const provisioner = h.deps.provisioner as RecordingProvisioner;
  expect(provisioner.roles.size).toBe(0);
  expect(provisioner.log.filter((l) => l.startsWith('apply'))).toEqual([]);
  expect((h.deps.identity as RecordingIdentityGranter).policies.size).toBe(0);
  expect((await allItems(h)).filter((i) => i.type === 'grant')).toEqual([]);
}

/** Marks an approved request FAILED, as provisioning would after an AccessDenied. */
async function markFailed(r: AccessRequest, retryable: boolean): Promise<AccessRequest> {
  const at = h.clock.now().toISOString();
  const f: AccessRequest = { ...r, version: r.version + 1, status: 'FAILED', updatedAt: at, failure: { code: 'AccessDenied', message: 'denied', at, retryable } };
  await h.requests.commit({ request: f, expectedVersion: r.version, events: [] });
  return f;
}

/** A staging request (auto-approved), then marked FAILED as provisioning would after a permanent error. */
async function failed(): Promise<AccessRequest> {
  const r = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'staging', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' });
  return markFailed(r, true);
}

it('an approval after the requester left the rule is refused with a 403 that says why, and writes nothing', async () => {
  const r = await pending();
  h.deps.settings = settingsWith(leadsOnly);
  const before = await allItems(h);

  const res = await call(h.api, { method: 'POST', path: `/requests/${r.id}/approve`, caller: ARN.leadAnna, body: {} });

  expect(res.status).toBe(403);
  expect(res.body).toMatchObject({
    error: 'FORBIDDEN',
    message: `Rule "production-read" no longer lets ${ARN.alice} request profile "ReadOnly" in account production (333333333333): the configuration changed since request ${r.id} was made. Make a new request.`,
  });
  expect(await allItems(h)).toEqual(before);
});

it('a deny still ends such a request', async () => {
  const r = await pending();
  h.deps.settings = settingsWith(leadsOnly);

  const res = await call(h.api, { method: 'POST', path: `/requests/${r.id}/deny`, caller: ARN.leadAnna, body: { comment: 'no longer allowed' } });

  expect(res.status).toBe(200);
  expect(res.body.request).toMatchObject({ status: 'DENIED', version: 2 });
});

it('an approval is refused once the profile left the rule, and once the account did', async () => {
  const byProfile = await pending();
  const byAccount = await pending();
  h.deps.settings = settingsWith((doc) => {
    rule(doc, 'production-read').profiles = ['S3ReadOnly'];
  });
  expect((await call(h.api, { method: 'POST', path: `/requests/${byProfile.id}/approve`, caller: ARN.leadAnna, body: {} })).status).toBe(403);
  h.deps.settings = settingsWith((doc) => {
    rule(doc, 'production-read').accounts = ['staging'];
  });
  expect((await call(h.api, { method: 'POST', path: `/requests/${byAccount.id}/approve`, caller: ARN.leadAnna, body: {} })).status).toBe(403);
  expect((await h.requests.get(byProfile.id))!).toMatchObject({ status: 'PENDING', version: 1, approvals: [] });
  expect((await h.requests.get(byAccount.id))!).toMatchObject({ status: 'PENDING', version: 1, approvals: [] });
});

it('an approval for a workload the rule no longer admits is refused, naming the principal', async () => {
  const r = await pending(ARN.appRole);
  h.deps.settings = settingsWith((doc) => {
    rule(doc, 'production-read').workloadPrincipals = [];
  });

  const res = await call(h.api, { method: 'POST', path: `/requests/${r.id}/approve`, caller: ARN.leadAnna, body: {} });

  expect(res.status).toBe(403);
  expect(res.body.message).toBe(`Rule "production-read" does not let ${ARN.alice} request access for ${ARN.appRole}.`);
  expect((await h.requests.get(r.id))!).toMatchObject({ status: 'PENDING', version: 1 });
});

it('under an unchanged rule the same approval goes through (the refusals above come from the change)', async () => {
  const r = await pending(ARN.appRole);
  const res = await call(h.api, { method: 'POST', path: `/requests/${r.id}/approve`, caller: ARN.leadAnna, body: {} });
  expect(res.status).toBe(200);
  expect(res.body.request.status).toBe('APPROVED');
});

it('a retry of a FAILED auto-approved request is refused once the requester left the rule, and writes nothing', async () => {
  const f = await failed();
  h.deps.settings = settingsWith((doc) => {
    rule(doc, 'staging-self-service').requesters = ['arn:aws:iam::111111111111:user/lead-*'];
  });
  const before = await allItems(h);

  const res = await call(h.api, { method: 'POST', path: `/requests/${f.id}/retry`, caller: ARN.alice, body: {} });

  expect(res.status).toBe(403);
  expect(res.body.message).toBe(
    `Rule "staging-self-service" no longer lets ${ARN.alice} request profile "ReadOnly" in account staging (222222222222): the configuration changed since request ${f.id} was made. Make a new request.`,
  );
  expect(await allItems(h)).toEqual(before);
});

it('the same retry goes through under the unchanged rule', async () => {
  const f = await failed();
  const res = await call(h.api, { method: 'POST', path: `/requests/${f.id}/retry`, caller: ARN.alice, body: {} });
  expect(res.status).toBe(200);
  expect(res.body.request).toMatchObject({ status: 'APPROVED', version: f.version + 1 });
});

describe('the approvals counted are those the rule allows now', () => {
  const adminRequest = () => createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'patch the fleet' });
  const approve = (id: string, caller: string) => call(h.api, { method: 'POST', path: `/requests/${id}/approve`, caller, body: {} });

  it('an approval by someone the rule no longer names does not count toward the quorum', async () => {
    const r = await adminRequest();
    expect((await approve(r.id, ARN.leadAnna)).body.request).toMatchObject({ status: 'PENDING', approvals: [ARN.leadAnna] });
    // Anna leaves the leads: only lead-ben is left of them.
    h.deps.settings = settingsWith((doc) => {
      rule(doc, 'admin-two-approvals').approvers = [ARN.leadBen, 'arn:aws:iam::111111111111:user/sre-*'];
    });

    const second = await approve(r.id, ARN.sreSam);
    expect(second.status).toBe(200);
    // Anna's approval leaves the request's approvals; her decision and its audit event stay.
    expect(second.body.request).toMatchObject({ status: 'PENDING', approvals: [ARN.sreSam], approvalsRequired: 2 });
    const detail = (await h.requests.getDetail(r.id))!;
    expect(detail.events.at(-1)).toMatchObject({ action: 'APPROVAL_RECORDED', data: { approvals: 1, required: 2 } });
    expect(detail.decisions.map((d) => d.approver).sort()).toEqual([ARN.leadAnna, ARN.sreSam]);

    const third = await approve(r.id, ARN.leadBen);
    expect(third.body.request).toMatchObject({ status: 'APPROVED', approvals: [ARN.sreSam, ARN.leadBen] });
    expect((await h.requests.getDetail(r.id))!.events.at(-1)).toMatchObject({ action: 'APPROVED', data: { approvals: 2, required: 2 } });
  });

  it('a rule that now asks for more approvals asks them of a pending request too', async () => {
    const r = await pending();
    expect(r.approvalsRequired).toBe(1);
    h.deps.settings = settingsWith((doc) => {
      rule(doc, 'production-read').approvalsRequired = 2;
    });

    const first = await approve(r.id, ARN.leadAnna);
    expect(first.body.request).toMatchObject({ status: 'PENDING', approvalsRequired: 2 });
    const second = await approve(r.id, ARN.leadBen);
    expect(second.body.request).toMatchObject({ status: 'APPROVED', approvalsRequired: 2 });
  });

  it('a rule that now asks for fewer keeps the number the request was made under', async () => {
    const r = await adminRequest();
    h.deps.settings = settingsWith((doc) => {
      rule(doc, 'admin-two-approvals').approvalsRequired = 1;
    });

    const first = await approve(r.id, ARN.leadAnna);
    expect(first.body.request).toMatchObject({ status: 'PENDING', approvalsRequired: 2 });
  });
});

describe('live access whose rule left the configuration', () => {
  const withoutProductionRead = (doc: Doc) => {
    doc.rules = doc.rules.filter((r: Doc) => r.id !== 'production-read');
  };
  async function activeProductionRead(): Promise<AccessRequest> {
    const r = await pending();
    expect((await call(h.api, { method: 'POST', path: `/requests/${r.id}/approve`, caller: ARN.leadAnna, body: {} })).status).toBe(200);
    await provisionRequest(h.deps, r.id);
    return (await h.requests.get(r.id))!;
  }
  const revoke = (id: string, caller: string) => call(h.api, { method: 'POST', path: `/requests/${id}/revoke`, caller, body: { comment: 'incident' } });

  it('can still be revoked by the approver who approved it', async () => {
    const r = await activeProductionRead();
    expect(r.status).toBe('ACTIVE');
    h.deps.settings = settingsWith(withoutProductionRead);

    // She can find it too.
    expect((await call(h.api, { method: 'GET', path: `/requests/${r.id}`, caller: ARN.leadAnna })).status).toBe(200);
    const res = await revoke(r.id, ARN.leadAnna);

    expect(res.status).toBe(200);
    expect(res.body.request).toMatchObject({ status: 'REVOKED' });
  });

  it('can be revoked by an approver of a rule that now covers its account and profile', async () => {
    const r = await activeProductionRead();
    h.deps.settings = settingsWith((doc: Doc) => {
      withoutProductionRead(doc);
      doc.rules.push({ id: 'production-read-v2', requesters: ['arn:aws:iam::111111111111:user/lead-*'], accounts: ['production'], profiles: ['ReadOnly'], maxDurationMinutes: 60, approvers: ['arn:aws:iam::111111111111:user/sre-*'] });
    });

    expect((await revoke(r.id, ARN.sreSam)).body.request).toMatchObject({ status: 'REVOKED' });
    // Once it no longer gives access, the new rule's approvers no longer see the old rule's request.
    expect((await call(h.api, { method: 'GET', path: `/requests/${r.id}`, caller: ARN.sreSam })).status).toBe(403);
    expect((await call(h.api, { method: 'GET', path: `/requests/${r.id}`, caller: ARN.leadAnna })).status).toBe(200);
  });

  it('refuses anyone else, and changes nothing', async () => {
    const r = await activeProductionRead();
    h.deps.settings = settingsWith(withoutProductionRead);
    const before = await allItems(h);

    expect((await call(h.api, { method: 'GET', path: `/requests/${r.id}`, caller: ARN.leadBen })).status).toBe(403);
    const res = await revoke(r.id, ARN.leadBen);

    expect(res.status).toBe(403);
    expect(res.body.message).toBe('Only an approver of its rule, a responder, the requester or the grantee may revoke a request.');
    expect(await allItems(h)).toEqual(before);
  });
});

describe('a retry approves afresh with the approvals the rule counts now', () => {
  /** An EC2Admin request approved by the two given approvers, then FAILED as a permanent provisioning error leaves it. */
  async function failedAdmin(approvers: string[]): Promise<AccessRequest> {
    const r = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'EC2Admin', durationMinutes: 60, reason: 'patch the fleet' });
    for (const a of approvers) expect((await call(h.api, { method: 'POST', path: `/requests/${r.id}/approve`, caller: a, body: {} })).status).toBe(200);
    const approved = (await h.requests.get(r.id))!;
    expect(approved.status).toBe('APPROVED');
    return markFailed(approved, false);
  }
  const retry = (id: string, caller: string) => call(h.api, { method: 'POST', path: `/requests/${id}/retry`, caller, body: {} });

  it('is refused with a 409 naming the count once an approver left the rule, and writes nothing', async () => {
    const f = await failedAdmin([ARN.leadAnna, ARN.sreSam]);
    h.deps.settings = settingsWith((doc) => {
      rule(doc, 'admin-two-approvals').approvers = [ARN.leadBen, 'arn:aws:iam::111111111111:user/sre-*'];
    });
    const before = await allItems(h);

    const res = await retry(f.id, ARN.sreSam);

    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: 'CONFLICT',
      message: `Rule "admin-two-approvals" now needs 2 approval(s) from its current approvers, and request ${f.id} has 1: a retry cannot approve it afresh. Make a new request.`,
      details: [{ field: 'approvals', reason: 'has 1 of the 2 the rule now needs' }],
    });
    expect(await allItems(h)).toEqual(before);
  });

  it('is refused once the rule asks for more approvals than the request has', async () => {
    const r = await pending();
    await call(h.api, { method: 'POST', path: `/requests/${r.id}/approve`, caller: ARN.leadAnna, body: {} });
    await markFailed((await h.requests.get(r.id))!, false);
    h.deps.settings = settingsWith((doc) => {
      rule(doc, 'production-read').approvalsRequired = 2;
    });

    const res = await retry(r.id, ARN.leadAnna);

    expect(res.status).toBe(409);
    expect(res.body.details).toEqual([{ field: 'approvals', reason: 'has 1 of the 2 the rule now needs' }]);
    expect((await h.requests.get(r.id))!.status).toBe('FAILED');
  });

  it('goes through with the same approvers under the unchanged rule, and a lowered count keeps the request\'s own', async () => {
    const f = await failedAdmin([ARN.leadAnna, ARN.sreSam]);
    const unchanged = await retry(f.id, ARN.sreSam);
    expect(unchanged.status).toBe(200);
    expect(unchanged.body.request).toMatchObject({ status: 'APPROVED', approvals: [ARN.leadAnna, ARN.sreSam], approvalsRequired: 2 });

    // As for an approval, a rule that now asks for fewer keeps the number the request was made under.
    const g = await failedAdmin([ARN.leadBen, ARN.sreSam]);
    h.deps.settings = settingsWith((doc) => {
      const admin = rule(doc, 'admin-two-approvals');
      admin.approvers = [ARN.sreSam, ARN.leadAnna];
      admin.approvalsRequired = 1;
    });
    const res = await retry(g.id, ARN.sreSam);
    expect(res.status).toBe(409);
    expect(res.body.details).toEqual([{ field: 'approvals', reason: 'has 1 of the 2 the rule now needs' }]);
  });
});

describe('an approved request the configuration no longer covers when it is provisioned', () => {
  async function approvedWorkload(): Promise<AccessRequest> {
    h.deps.settings = settingsWith((doc) => {
      rule(doc, 'production-read').workloadExternalId = 'billing-7f3a9c1e2d';
    });
    const r = await pending(ARN.appRole);
    expect((await call(h.api, { method: 'POST', path: `/requests/${r.id}/approve`, caller: ARN.leadAnna, body: {} })).body.request.status).toBe('APPROVED');
    return r;
  }

  it('ends FAILED with the reason, granting nothing, once its rule left: a workload role is never trusted without its ExternalId', async () => {
    const r = await approvedWorkload();
    h.deps.settings = settingsWith((doc) => {
      doc.rules = (doc.rules as Doc[]).filter((x) => x.id !== 'production-read');
    });

    const result = await provisionRequest(h.deps, r.id);

    expect(result.outcome).toBe('failed');
    const failedReq = (await h.requests.get(r.id))!;
    expect(failedReq).toMatchObject({
      status: 'FAILED',
      failure: { code: 'ConfigurationChanged', retryable: false, message: `The rule "production-read" that approved request ${r.id} left the configuration before its access was granted; nothing was granted. Make a new request.` },
    });
    await expectNothingGranted();
    expect((await h.requests.getDetail(r.id))!.events.at(-1)).toMatchObject({ action: 'PROVISIONING_FAILED', data: { awsCode: 'ConfigurationChanged' } });
  });

  it('ends FAILED once its requester left the rule, and is provisioned under the unchanged rule', async () => {
    const r = await approvedWorkload();
    const ok = await approvedWorkload();
    expect((await provisionRequest(h.deps, ok.id)).outcome).toBe('active');
    h.deps.settings = settingsWith((doc) => {
      const read = rule(doc, 'production-read');
      read.workloadExternalId = 'billing-7f3a9c1e2d';
      read.requesters = ['arn:aws:iam::111111111111:user/lead-*'];
    });

    expect((await provisionRequest(h.deps, r.id)).outcome).toBe('failed');
    expect((await h.requests.get(r.id))!.failure).toMatchObject({ code: 'ConfigurationChanged', message: expect.stringContaining(`Rule "production-read" no longer lets ${ARN.alice} request profile "ReadOnly"`) });
  });
});

it('a rule over every profile does not cover one that left the configuration: the approval is refused', async () => {
  h.deps.settings = settingsWith((doc) => {
    rule(doc, 'production-read').profiles = ['*'];
  });
  const r = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'S3ReadOnly', durationMinutes: 60, reason: 'read the bucket' });
  h.deps.settings = settingsWith((doc) => {
    rule(doc, 'production-read').profiles = ['*'];
    doc.profiles = (doc.profiles as Doc[]).filter((p) => p.name !== 'S3ReadOnly');
    for (const x of doc.rules as Doc[]) x.profiles = (x.profiles as string[]).filter((p) => p !== 'S3ReadOnly');
  });

  const res = await call(h.api, { method: 'POST', path: `/requests/${r.id}/approve`, caller: ARN.leadAnna, body: {} });

  expect(res.status).toBe(403);
  expect(res.body.message).toContain('the configuration changed since request');
  expect((await h.requests.get(r.id))!).toMatchObject({ status: 'PENDING', approvals: [] });
});

describe('a stricter rule put ahead of the one a request was made under governs it from then on', () => {
  /** Put first: production and staging ReadOnly now need two approvals from the SREs. */
  const stricterFirst = (doc: Doc) => {
    doc.rules.unshift({
      id: 'read-reviewed',
      requesters: ['arn:aws:iam::111111111111:user/*'],
      accounts: ['production', 'staging'],
      profiles: ['ReadOnly'],
      maxDurationMinutes: 60,
      approvers: ['arn:aws:iam::111111111111:user/sre-*'],
      approvalsRequired: 2,
    });
  };
  const governed = (r: AccessRequest, was: string, account: string) =>
    `Rule "read-reviewed" now governs profile "ReadOnly" in account ${account} for ${ARN.alice}, ahead of rule "${was}" that request ${r.id} was made under: the configuration changed since. Make a new request.`;

  it("refuses the looser rule's approval of a pending request (403) and writes nothing; a deny still ends it", async () => {
    const r = await pending();
    h.deps.settings = settingsWith(stricterFirst);
    const before = await allItems(h);

    const res = await call(h.api, { method: 'POST', path: `/requests/${r.id}/approve`, caller: ARN.leadAnna, body: {} });

    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: 'FORBIDDEN', message: governed(r, 'production-read', 'production (333333333333)') });
    expect(await allItems(h)).toEqual(before);
    const deny = await call(h.api, { method: 'POST', path: `/requests/${r.id}/deny`, caller: ARN.leadAnna, body: { comment: 'needs the SREs now' } });
    expect(deny.body.request).toMatchObject({ status: 'DENIED' });
  });

  it("no longer offers the pending request to the looser rule's approvers in view=awaiting", async () => {
    const r = await pending();
    const awaiting = async () => (await call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, query: { view: 'awaiting' } })).body.items.map((i: { id: string }) => i.id);
    expect(await awaiting()).toEqual([r.id]);

    h.deps.settings = settingsWith(stricterFirst);

    expect(await awaiting()).toEqual([]);
    // Still visible, as a request under the rule its approvers belong to.
    expect((await call(h.api, { method: 'GET', path: '/requests', caller: ARN.leadAnna, query: { view: 'all' } })).body.items.map((i: { id: string }) => i.id)).toEqual([r.id]);
  });

  it('refuses the retry of a FAILED auto-approved request, which would have granted without the new approvals', async () => {
    const f = await failed();
    h.deps.settings = settingsWith(stricterFirst);
    const before = await allItems(h);

    const res = await call(h.api, { method: 'POST', path: `/requests/${f.id}/retry`, caller: ARN.alice, body: {} });

    expect(res.status).toBe(403);
    expect(res.body.message).toBe(governed(f, 'staging-self-service', 'staging (222222222222)'));
    expect(await allItems(h)).toEqual(before);
  });

  it('ends an approved request FAILED (ConfigurationChanged) at provisioning, with nothing granted', async () => {
    const r = await pending();
    expect((await call(h.api, { method: 'POST', path: `/requests/${r.id}/approve`, caller: ARN.leadAnna, body: {} })).body.request.status).toBe('APPROVED');
    h.deps.settings = settingsWith(stricterFirst);

    expect((await provisionRequest(h.deps, r.id)).outcome).toBe('failed');
    expect((await h.requests.get(r.id))!.failure).toMatchObject({ code: 'ConfigurationChanged', retryable: false, message: governed(r, 'production-read', 'production (333333333333)') });
    await expectNothingGranted();
  });

  it('a rule put after it, or over other profiles, changes nothing: the approval goes through', async () => {
    const [r, s] = [await pending(), await pending()];
    h.deps.settings = settingsWith((doc) => {
      stricterFirst(doc);
      rule(doc, 'read-reviewed').profiles = ['S3ReadOnly'];
    });
    expect((await call(h.api, { method: 'POST', path: `/requests/${s.id}/approve`, caller: ARN.leadAnna, body: {} })).body.request.status).toBe('APPROVED');
    h.deps.settings = settingsWith((doc: Doc) => {
      stricterFirst(doc);
      doc.rules.push(doc.rules.shift());
    });
    expect((await call(h.api, { method: 'POST', path: `/requests/${r.id}/approve`, caller: ARN.leadAnna, body: {} })).body.request.status).toBe('APPROVED');
  });
});
