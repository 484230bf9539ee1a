import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SlackMessageStore, StoredSlackMessage } from '../slack/slack-notifier';

/** A unit of Slack work, acknowledged at once and done by the worker. */
export interface SlackJob {
  /** Deduplication key: a replayed request or a double click yields the same id. */
  id: string;
  slackUserId: string;
  principalArn: string;
  responseUrl: string;
  work:
    | { kind: 'command'; command: import('../slack/commands').AccessCommand }
    | { kind: 'approve'; requestId: string }
    | { kind: 'deny'; requestId: string; reason: string };
}

/**
 * Slack jobs and approval-message references in the rolegate table. Jobs
 * expire by TTL after a day: they are the only items that may disappear.
 */
export class DynamoSlackStore implements SlackMessageStore {
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
          Item: { pk: `SLACKJOB#${job.id}`, sk: '#JOB', type: 'slack-job', job: JSON.stringify(job), expiresAt: Math.floor(this.now().getTime() / 1000) + 86_400 },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      return true;
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return false;
      throw e;
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
