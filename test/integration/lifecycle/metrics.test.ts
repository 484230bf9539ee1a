import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import { Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import { PowertoolsLoggerAdapter } from '../../../src/adapters/logger';
import { EmfMetrics } from '../../../src/adapters/metrics';
import { createRequest } from '../../../src/domain/use-cases/createRequest';
import { decideRequest } from '../../../src/domain/use-cases/decideRequest';
import { provisionRequest } from '../../../src/domain/use-cases/provisionRequest';
import { sweep } from '../../../src/domain/use-cases/sweep';
import { httpApp } from '../../../src/handlers/http/app';
import { routes } from '../../../src/handlers/http/routes';
import { apiEvent, lambdaContext } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { intercept } from '../../helpers/intercept';
import { RecordingProvisioner } from '../../helpers/recording-provisioner';
import { ARN } from '../../helpers/settings';

describe('metrics and structured logs', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('counts requests, approvals, activations, expiries and sweep work', async () => {
    const r = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'x' });
    await decideRequest(h.deps, { arn: ARN.leadAnna, via: 'api' }, { requestId: r.id, decision: 'APPROVE' });
    await provisionRequest(h.deps, r.id);
    h.clock.advance(31 * 60_000);
    await sweep(h.deps);
    expect(Object.fromEntries(h.metrics.counts)).toEqual({ RequestCreated: 1, RequestApproved: 1, GrantActivated: 1, AccessEnded: 1, SweepItems: 1 });
    expect(h.metrics.timings.map((t) => t.name)).toEqual(['SweepDuration']);
  });

  it('counts an expiry the sweeper could not carry out, every time it fails, and retries it with backoff until it succeeds', async () => {
    const r = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'x' });
    await decideRequest(h.deps, { arn: ARN.leadAnna, via: 'api' }, { requestId: r.id, decision: 'APPROVE' });
    await provisionRequest(h.deps, r.id);
    h.clock.advance(31 * 60_000);
    const denied = Object.assign(new Error('User is not authorized to perform: iam:DeleteRole'), { name: 'AccessDenied' });
    (h.deps.provisioner as RecordingProvisioner).failNext.push(denied, denied);
    expect((await sweep(h.deps)).errors).toHaveLength(1);
    // Put off for a minute after the first failure, two after the second.
    expect((await sweep(h.deps)).errors).toEqual([]);
    h.clock.advance(60_000);
    expect((await sweep(h.deps)).errors).toHaveLength(1);
    h.clock.advance(120_000);
    expect(h.metrics.counts.get('ExpiryFailed')).toBe(2);
    expect((await h.deps.requests.get(r.id))!.status).toBe('ACTIVE');
    const third = await sweep(h.deps);
    expect(third.errors).toEqual([]);
    expect(third.expired).toBe(1);
    expect(h.metrics.counts.get('ExpiryFailed')).toBe(2);
    expect((await h.deps.requests.get(r.id))!.status).toBe('EXPIRED');
  });

  it('counts each notification that could not be delivered, also when its NOTIFICATION_FAILED audit cannot be written', async () => {
    h.notifier.failure = new Error('Slack chat.postMessage failed: invalid_auth');
    const first = await createRequest(h.deps, { arn: ARN.alice, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'x' });
    expect(h.metrics.counts.get('NotificationFailed')).toBe(1);
    expect((await h.requests.getDetail(first.id))!.events.map((e) => e.action)).toEqual(['REQUESTED', 'NOTIFICATION_FAILED']);

    h.deps.requests = intercept(h.requests, {
      appendEvents: async () => {
        throw new Error('ProvisionedThroughputExceededException');
      },
    });
    const second = await createRequest(h.deps, { arn: ARN.bob, via: 'api' }, { account: 'production', profile: 'ReadOnly', durationMinutes: 30, reason: 'y' });

    expect(h.metrics.counts.get('NotificationFailed')).toBe(2);
    expect((await h.requests.getDetail(second.id))!.events.map((e) => e.action)).toEqual(['REQUESTED']);
    expect(h.logger.lines).toContainEqual(expect.objectContaining({ level: 'error', message: 'could not audit a failed notification', fields: expect.objectContaining({ requestId: second.id }) }));
  });

  it('writes metrics as one CloudWatch EMF line per flush', () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const m = new EmfMetrics(new PowertoolsMetrics({ namespace: 'rolegate', serviceName: 'rolegate', defaultDimensions: { stage: 'test' } }));
      m.count('RequestCreated');
      m.count('RequestCreated');
      m.milliseconds('SweepDuration', 12);
      m.flush();
    } finally {
      spy.mockRestore();
    }
    const emf = lines.map((l) => JSON.parse(l)).find((l) => l._aws);
    expect(emf._aws.CloudWatchMetrics[0].Namespace).toBe('rolegate');
    // EMF keeps each value; CloudWatch sums them.
    expect(emf.RequestCreated).toEqual([1, 1]);
    expect(emf.SweepDuration).toBe(12);
    expect(emf.stage).toBe('test');
  });

  it('puts the correlation id on every log line of a request and keeps user text in fields', async () => {
    const HOSTILE = '"}\n{"level":"ERROR","message":"forged"}\n';
    const lines: Record<string, unknown>[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      // One write is one line, one JSON object: a forged line would be a second object (or fail to parse).
      const text = String(chunk).replace(/\n$/, '');
      expect(text).not.toContain('\n');
      lines.push(JSON.parse(text));
      return true;
    });
    try {
      const logger = new PowertoolsLoggerAdapter(new PowertoolsLogger({ serviceName: 'rolegate', logLevel: 'INFO' }));
      const api = httpApp(routes, () => h.deps, logger, { localIdentity: false });
      await api(apiEvent({ method: 'POST', path: '/requests', caller: ARN.alice, body: { account: 'nope', profile: 'ReadOnly', durationMinutes: 30, reason: HOSTILE }, headers: { 'x-correlation-id': 'corr-abcdef12' } }), lambdaContext());
      logger.info('after the request');
      // User text that does reach a log line (a field) stays inside it, as one value.
      logger.info('user text', { reason: HOSTILE });
    } finally {
      spy.mockRestore();
    }
    const during = lines.filter((l) => l.message !== 'after the request' && l.message !== 'user text');
    expect(during.length).toBeGreaterThan(0);
    for (const l of during) expect(l.correlationId).toBe('corr-abcdef12');
    expect(lines.find((l) => l.message === 'after the request')!.correlationId).toBeUndefined();
    expect(lines.filter((l) => l.message === 'user text').map((l) => l.reason)).toEqual([HOSTILE]);
    expect(lines.filter((l) => l.level === 'ERROR')).toEqual([]);
  });
});
