import type { AttributeValue, Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { getApp, type App } from '../compose';
import { errorForLog, ProvisioningError } from '../domain/errors';
import type { AuditAction, AuditEvent, NotificationKind } from '../domain/model';
import { deliverNotification } from '../domain/use-cases/context';
import { provisionRequest } from '../domain/use-cases/provisionRequest';
import { invocation, leaseWaitsWithin, type InvocationContext } from './lease-waits';
import { EVENT_SK_PREFIX, REQUEST_SK, requestPk } from '../adapters/dynamodb/keys';
import { SLACK_JOB_PK_PREFIX, SLACK_JOB_SK, type SlackJob } from '../adapters/dynamodb/slack-store';
import { runSlackJob } from './slack/run-job';

/**
 * Worker, fed by the table's stream (filtered in serverless.yml to requests
 * entering APPROVED, new Slack jobs, and new audit events that carry a
 * notification). Each record is handled on its own; an unexpected error
 * reports that record for retry (the stream sends the batch again from it
 * on: records after it come again, and a notification among them is sent
 * again). AWS errors of provisioning are counted on the request, or left to
 * the sweeper, which re-drives an APPROVED request with its own backoff.
 *
 * No new work starts with less than WORKER_RESERVE_MS left: the records not
 * yet handled go back to the stream rather than dying with the invocation
 * (a timeout would send the whole batch back, work done included).
 */
export async function handler(event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> {
  return handleStream(await getApp(), event, context);
}

/**
 * Longer than one unit of work may take: a notification is at most ~20 s
 * (webhooks give up 20 s after they start, the read of their secret
 * included, in parallel; a Slack notification is two 10 s calls at most,
 * the read of the bot token included), a Slack job ~12 s, plus a few
 * DynamoDB calls. The timeout arithmetic is in serverless.yml.
 */
export const WORKER_RESERVE_MS = 25_000;
/**
 * Provisioning waits for a busy grant's lease only while more than this is
 * left, so its IAM calls and commit fit in the reserve; otherwise it ends
 * GrantBusy (retryable) and the sweeper takes it up again with backoff.
 */
export const WORKER_WORK_MS = 20_000;

export type WorkerApp = Pick<App, 'deps' | 'logger' | 'slack' | 'flushMetrics'>;

export async function handleStream(app: WorkerApp, event: DynamoDBStreamEvent, context: InvocationContext): Promise<DynamoDBBatchResponse> {
  return invocation(app, context, () => handleRecords(app, event, context));
}

async function handleRecords(app: WorkerApp, event: DynamoDBStreamEvent, context: InvocationContext): Promise<DynamoDBBatchResponse> {
  const failures: DynamoDBBatchResponse['batchItemFailures'] = [];
  const fail = (record: DynamoDBRecord) => {
    if (record.dynamodb?.SequenceNumber) failures.push({ itemIdentifier: record.dynamodb.SequenceNumber });
  };
  const inTime = () => context.getRemainingTimeInMillis() > WORKER_RESERVE_MS;
  // Provisioning waits for a busy grant only as long as this invocation has time for.
  const provisioning = leaseWaitsWithin(app.deps, () => context.getRemainingTimeInMillis(), WORKER_WORK_MS);
  const notices: { record: DynamoDBRecord; event: AuditEvent }[] = [];
  for (const [i, record] of event.Records.entries()) {
    if (!inTime()) {
      // The notifications collected so far are not sent yet either: every record not handled goes back, in order.
      const collected = new Set(notices.map((n) => n.record));
      const unhandled = event.Records.filter((r, j) => j >= i || collected.has(r));
      app.logger.warn('worker running out of time; records sent back to the stream', { records: unhandled.length });
      unhandled.forEach(fail);
      return { batchItemFailures: failures };
    }
    const image = record.dynamodb?.NewImage;
    const kind = image && kindOf(image);
    if (!image || kind === undefined) {
      app.logger.warn('stream record of no kind the worker handles; ignored', { type: image?.type?.S, pk: image?.pk?.S?.split('#')[0] });
      continue;
    }
    if (kind === 'event') {
      const notice = noticeFrom(image);
      if (record.eventName === 'INSERT' && notice) notices.push({ record, event: notice });
      continue;
    }
    if (kind === 'slack-job') {
      // A Slack job: its item was written once, but the stream may deliver it again; the runner skips a job already done.
      try {
        const job = JSON.parse(image.job?.S ?? 'null') as SlackJob | null;
        if (app.slack && job) await runSlackJob({ deps: app.deps, slack: app.slack.api, jobs: app.slack.store }, job);
      } catch (e) {
        // A parse error quotes the item, whose response_url is a credential: named, never quoted.
        const error = e instanceof SyntaxError ? 'SyntaxError: the job item is not valid JSON' : String(e);
        app.logger.error('slack job crashed; the record will be retried', { jobId: image.pk?.S?.slice(SLACK_JOB_PK_PREFIX.length), error });
        app.deps.metrics?.count('WorkerRecordFailed');
        fail(record);
      }
      continue;
    }
    const id = image.id?.S;
    if (!id) continue;
    try {
      const result = await provisionRequest(provisioning, id);
      app.logger.info('provisioning step', { requestId: id, outcome: result.outcome });
    } catch (e) {
      if (e instanceof ProvisioningError) {
        // IAM would not end an access whose end passed, or whose original was revoked, before it was provisioned.
        // The request stays APPROVED, and its due entry brings the sweeper to it, which counts the attempt: sent
        // back, the record would only run again at once and then join the dead letters.
        app.logger.warn('provisioning step failed; the sweeper takes it up again', { requestId: id, awsCode: e.awsCode, error: errorForLog(e) });
        continue;
      }
      app.logger.error('provisioning crashed; the record will be retried', { requestId: id, error: errorForLog(e) });
      app.deps.metrics?.count('WorkerRecordFailed');
      fail(record);
    }
  }
  await deliverAll(app, notices, fail, inTime);
  return { batchItemFailures: failures };
}

/**
 * Sends the notifications the batch's audit events carry: one request's in
 * the order they were written (a Slack message is posted before it is
 * updated), different requests' side by side, so one slow receiver does not
 * hold up the rest. A failed delivery is audited (NOTIFICATION_FAILED), not
 * retried, since the other receivers already have it; only a crash (say,
 * the request could not be read) sends the record back to the stream, and
 * so does running out of time.
 */
async function deliverAll(app: WorkerApp, notices: { record: DynamoDBRecord; event: AuditEvent }[], fail: (r: DynamoDBRecord) => void, inTime: () => boolean): Promise<void> {
  const byRequest = new Map<string, typeof notices>();
  for (const n of notices) byRequest.set(n.event.requestId, [...(byRequest.get(n.event.requestId) ?? []), n]);
  await Promise.all(
    [...byRequest.values()].map(async (queue) => {
      for (const [i, { event }] of queue.entries()) {
        if (!inTime()) {
          app.logger.warn('worker running out of time; notifications sent back to the stream', { requestId: event.requestId, records: queue.length - i });
          for (const rest of queue.slice(i)) fail(rest.record);
          return;
        }
        try {
          const request = await app.deps.requests.get(event.requestId);
          if (!request) {
            app.logger.warn('notification for a request that does not exist; dropped', { requestId: event.requestId, kind: event.notify });
            continue;
          }
          await deliverNotification(app.deps, request, event);
        } catch (e) {
          app.logger.error('notification crashed; the record will be retried', { requestId: event.requestId, kind: event.notify, error: String(e) });
          app.deps.metrics?.count('WorkerRecordFailed');
          // This one and the request's later ones go back, in order.
          for (const rest of queue.slice(i)) fail(rest.record);
          return;
        }
      }
    }),
  );
}

/**
 * What a stream image is, by its type and its key together: the Slack
 * function may write only items under SLACKJOB#, so an item there that
 * calls itself an event or a request (or a job under another key) is no
 * work of the worker's, and cannot be made to send a notification or
 * provision in rolegate's name.
 */
function kindOf(image: Record<string, AttributeValue>): 'event' | 'slack-job' | 'request' | undefined {
  const [type, pk, sk] = [image.type?.S, image.pk?.S ?? '', image.sk?.S ?? ''];
  if (type === 'slack-job') return pk.startsWith(SLACK_JOB_PK_PREFIX) && sk === SLACK_JOB_SK ? type : undefined;
  if (!pk.startsWith(requestPk(''))) return undefined;
  if (type === 'event') return sk.startsWith(EVENT_SK_PREFIX) ? type : undefined;
  if (type === 'request') return sk === REQUEST_SK ? type : undefined;
  return undefined;
}

/** The audit event of a stream image, if it carries a notification. */
function noticeFrom(image: Record<string, AttributeValue>): AuditEvent | undefined {
  const [id, requestId, at, actor, action, notify] = ['id', 'requestId', 'at', 'actor', 'action', 'notify'].map((k) => image[k]?.S);
  if (!id || !requestId || !at || !actor || !action || !notify) return undefined;
  const comment = image.comment?.S;
  return { id, requestId, at, actor, action: action as AuditAction, notify: notify as NotificationKind, ...(comment !== undefined ? { comment } : {}) };
}
