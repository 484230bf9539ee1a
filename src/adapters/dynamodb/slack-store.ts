import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SlackMessageStore, StoredSlackMessage } from '../slack/slack-notifier';

/** A unit of Slack work, acknowledged at once and done by the worker. */
export interface SlackJob {
  /** Deduplication key: a replayed request or a double click yields the same id. */
  id: string;
  slackUserId: string;
  principalArn: string;
  responseUrl: string;
  /**
   * When the Slack endpoint took the job (ISO 8601): the time part of the id
   * of the request a `request` command makes. Absent on jobs taken before it
   * was recorded.
   */
  createdAt?: string;
  work:
    | { kind: 'command'; command: import('../slack/commands').AccessCommand }
    | { kind: 'approve'; requestId: string }
    | { kind: 'deny'; requestId: string; reason: string };
}

/**
 * Whether a job was done. The stream delivers a job at least once (a failed
 * record, an earlier failure in its batch or a timeout sends it again), so
 * the runner skips one already done.
 */
export interface SlackJobLedger {
  isDone(jobId: string): Promise<boolean>;
  markDone(jobId: string): Promise<void>;
}

export const SLACK_JOB_PK_PREFIX = 'SLACKJOB#';
export const SLACK_JOB_SK = '#JOB';
const jobKey = (jobId: string) => ({ pk: `${SLACK_JOB_PK_PREFIX}${jobId}`, sk: SLACK_JOB_SK });

/**
 * Slack jobs and approval-message references in the rolegate table. Jobs
 * expire by TTL after a day (as idempotency keys and drift reports do);
 * message references stay, as the requests they belong to do.
 */
export class DynamoSlackStore implements SlackMessageStore, SlackJobLedger {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Records the job once; false when the same job was already taken (replay, double click). */
  async putJob(job: SlackJob): Promise<boolean> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          // As a JSON string, so the worker reads it straight from the stream image.
          Item: { ...jobKey(job.id), type: 'slack-job', job: JSON.stringify(job), expiresAt: Math.floor(this.now().getTime() / 1000) + 86_400 },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
    }
  }

  async isDone(jobId: string): Promise<boolean> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: jobKey(jobId), ConsistentRead: true, ProjectionExpression: 'doneAt' }));
    return out.Item?.doneAt !== undefined;
  }

  /**
   * An update, so the stream (filtered to INSERTs of jobs) does not deliver
   * the job again. A job whose item has expired is left alone rather than
   * written back without its TTL.
   */
  async markDone(jobId: string): Promise<void> {
    try {
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: jobKey(jobId),
          UpdateExpression: 'SET doneAt = :now',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':now': this.now().toISOString() },
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    }
  }

  async get(requestId: string): Promise<StoredSlackMessage | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: { pk: `REQ#${requestId}`, sk: 'SLACK#MESSAGE' }, ConsistentRead: true }));
    return out.Item ? ({ channel: out.Item.channel, ts: out.Item.ts, ...(out.Item.version !== undefined ? { version: out.Item.version } : {}) } as StoredSlackMessage) : undefined;
  }

  /** Never lets an older state overwrite a newer one. */
  async put(requestId: string, message: StoredSlackMessage): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: `REQ#${requestId}`, sk: 'SLACK#MESSAGE', type: 'slack-message', ...message },
          ...(message.version !== undefined
            ? { ConditionExpression: 'attribute_not_exists(version) OR version <= :v', ExpressionAttributeValues: { ':v': message.version } }
            : {}),
        }),
      );
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    }
  }
}
