import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queryPartition } from './client';
import { ConflictError } from '../../domain/errors';
import type { Grant } from '../../domain/model';
import type { GrantLease, GrantStore } from '../../domain/ports';
import { grantItem, grantItemKey, grantPk, strip } from './keys';

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
    // The item is keyed by the grant: a mismatch would write another key under a condition on that key's lease.
    if (grant.grantKey !== lease.grantKey) throw new Error(`save: grant ${grant.grantKey} is not under the lease on ${lease.grantKey}`);
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
    // A lease-only item (nothing ever saved) is deleted rather than left behind; the lease's view says which shape to expect.
    const [likely, other] = lease.grant === undefined ? [this.dropLeaseOnly, this.clearLease] : [this.clearLease, this.dropLeaseOnly];
    try {
      await likely.call(this, lease);
      return;
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
      // Gone, or expired and taken over: nothing to give back. Still ours: the item has the other shape.
      if (e.Item?.leaseOwner?.S !== lease.owner) return;
    }
    try {
      await other.call(this, lease);
    } catch (e) {
      if (!(e instanceof ConditionalCheckFailedException)) throw e;
    }
  }

  async get(grantKey: string): Promise<Grant | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: grantItemKey(grantKey), ConsistentRead: true }));
    return out.Item && out.Item.version !== undefined ? strip<Grant>(out.Item) : undefined;
  }

  async listByAccount(accountId: string): Promise<Grant[]> {
    const items = await queryPartition(this.doc, this.tableName, grantPk(accountId));
    // A lease-only item (no version) is a grant being created: not a grant yet.
    return items.filter((item) => item.version !== undefined).map((item) => strip<Grant>(item));
  }

  private async clearLease(lease: GrantLease): Promise<void> {
    await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: grantItemKey(lease.grantKey),
        UpdateExpression: 'REMOVE leaseOwner, leaseUntil',
        ConditionExpression: 'leaseOwner = :owner AND attribute_exists(version)',
        ExpressionAttributeValues: { ':owner': lease.owner },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
  }

  private async dropLeaseOnly(lease: GrantLease): Promise<void> {
    await this.doc.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: grantItemKey(lease.grantKey),
        ConditionExpression: 'leaseOwner = :owner AND attribute_not_exists(version)',
        ExpressionAttributeValues: { ':owner': lease.owner },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
  }

  private lost(e: unknown, lease: GrantLease): unknown {
    if (e instanceof ConditionalCheckFailedException) {
      return new ConflictError(`The lease on grant ${lease.grantKey} was lost; another worker took it over.`);
    }
    return e;
  }
}
