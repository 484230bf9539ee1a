import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryPartition } from './client';
import { ConflictError } from '../../domain/errors';
import type { Grant } from '../../domain/model';
import type { GrantLease, GrantStore } from '../../domain/ports';
import { grantItem, grantItemKey, strip } from './keys';

/**
 * Grants and their leases. The lease is two attributes on the grant item,
 * taken with a conditional update, so changes to one grant key are
 * serialised across workers without another table or service.
 */
export class DynamoGrantStore implements GrantStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async acquire(grantKey: string, owner: string, until: string, now: string): Promise<GrantLease | undefined> {
    try {
      const out = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: grantItemKey(grantKey),
          UpdateExpression: 'SET leaseOwner = :owner, leaseUntil = :until, #type = :grant',
          ConditionExpression: 'attribute_not_exists(leaseOwner) OR leaseUntil < :now OR leaseOwner = :owner',
          ExpressionAttributeNames: { '#type': 'type' },
          ExpressionAttributeValues: { ':owner': owner, ':until': until, ':now': now, ':grant': 'grant' },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const item = out.Attributes ?? {};
      return { grantKey, owner, until, grant: item.version === undefined ? undefined : strip<Grant>(item) };
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) return undefined;
      throw e;
    }
  }

  async save(lease: GrantLease, grant: Grant): Promise<void> {
    try {
      await this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...grantItem(grant), leaseOwner: lease.owner, leaseUntil: lease.until },
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': lease.owner },
        }),
      );
      lease.grant = grant;
    } catch (e) {
      throw this.lost(e, lease);
    }
  }

  async remove(lease: GrantLease): Promise<void> {
    try {
      await this.doc.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: grantItemKey(lease.grantKey),
          // A re-sent delete finds the item gone already: that is success, not a lost lease.
          ConditionExpression: 'attribute_not_exists(pk) OR leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': lease.owner },
        }),
      );
      lease.grant = undefined;
    } catch (e) {
      throw this.lost(e, lease);
    }
  }

  async release(lease: GrantLease): Promise<void> {
    try {
      if (lease.grant === undefined) {
        // Nothing was saved under this lease: leave no lease-only item behind.
        await this.doc.send(
          new DeleteCommand({
            TableName: this.tableName,
            Key: grantItemKey(lease.grantKey),
            ConditionExpression: 'leaseOwner = :owner AND attribute_not_exists(version)',
            ExpressionAttributeValues: { ':owner': lease.owner },
          }),
        );
        return;
      }
      await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: grantItemKey(lease.grantKey),
          UpdateExpression: 'REMOVE leaseOwner, leaseUntil',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': lease.owner },
        }),
      );
    } catch (e) {
      // Already expired and taken over, or already gone: nothing to give back.
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    }
  }

  async get(grantKey: string): Promise<Grant | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: grantItemKey(grantKey), ConsistentRead: true }));
    return out.Item && out.Item.version !== undefined ? strip<Grant>(out.Item) : undefined;
  }

  async listByAccount(accountId: string): Promise<Grant[]> {
    const items = await queryPartition(this.doc, this.tableName, `GRANT#${accountId}`);
    // A lease-only item (no version) is a grant being created: not a grant yet.
    return items.filter((item) => item.version !== undefined).map((item) => strip<Grant>(item));
  }

  private lost(e: unknown, lease: GrantLease): unknown {
    if (e instanceof ConditionalCheckFailedException) {
      return new ConflictError(`The lease on grant ${lease.grantKey} was lost; another worker took it over.`);
    }
    return e;
  }
}
