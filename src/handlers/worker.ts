import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { getApp } from '../compose';
import { provisionRequest } from '../domain/use-cases/provisionRequest';
import type { SlackJob } from '../adapters/dynamodb/slack-store';
import { runSlackJob } from './slack/run-job';

/**
 * Provisioning worker, fed by the table's stream (filtered in serverless.yml
 * to requests entering APPROVED, and to new Slack jobs). Each record is independent; an unexpected
 * error reports only that record for retry. Transient AWS errors are counted
 * on the request and re-driven by the sweeper with its own backoff.
 */
export async function handler(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
  const app = getApp();
  const failures: DynamoDBBatchResponse['batchItemFailures'] = [];
  for (const record of event.Records) {
    const image = record.dynamodb?.NewImage;
    if (image?.type?.S === 'slack-job') {
      // A Slack job: done once (its item was written once), reported through response_url.
      try {
        const job = JSON.parse(image.job?.S ?? 'null') as SlackJob | null;
        if (app.slack && job) await runSlackJob(app.deps, app.slack.api, job);
      } catch (e) {
        app.logger.error('slack job crashed; the record will be retried', { error: String(e) });
        if (record.dynamodb?.SequenceNumber) failures.push({ itemIdentifier: record.dynamodb.SequenceNumber });
      }
      continue;
    }
    const id = image?.id?.S;
    if (!id) continue;
    try {
      const result = await provisionRequest(app.deps, id);
      app.logger.info('provisioning step', { requestId: id, outcome: result.outcome });
    } catch (e) {
      app.logger.error('provisioning crashed; the record will be retried', { requestId: id, error: String(e) });
      if (record.dynamodb?.SequenceNumber) failures.push({ itemIdentifier: record.dynamodb.SequenceNumber });
    }
  }
  app.flushMetrics();
  return { batchItemFailures: failures };
}
