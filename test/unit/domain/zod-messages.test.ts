import * as z from 'zod/mini';
import { issuesToDetails } from '../../../src/domain/zod-locale';
import { createRequestBody, extendBody, listQuery } from '../../../src/handlers/http/schemas';

/* The reasons a bad field gets, in rolegate's words, through the schemas the API validates with. */
const reasons = (schema: z.ZodMiniType, input: unknown) => {
  const result = schema.safeParse(input);
  if (result.success) throw new Error('expected the input to be refused');
  return issuesToDetails(result.error.issues);
};

const good = { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'read the logs' };

it.each([
  ['a missing field', createRequestBody, { account: 'production', profile: 'ReadOnly', durationMinutes: 60 }, { field: 'reason', reason: 'is required' }],
  ['a number for a string', createRequestBody, { ...good, account: 5 }, { field: 'account', reason: 'must be a string, not a number' }],
  ['a list for a string', createRequestBody, { ...good, profile: ['ReadOnly'] }, { field: 'profile', reason: 'must be a string, not a list' }],
  ['null for a string', createRequestBody, { ...good, reason: null }, { field: 'reason', reason: 'must be a string, not null' }],
  ['a list for the body', createRequestBody, [], { field: '(root)', reason: 'must be an object, not a list' }],
  ['a string for the body', createRequestBody, 'hello', { field: '(root)', reason: 'must be an object, not a string' }],
  ['a fraction of a minute', extendBody, { durationMinutes: 1.5, reason: 'x' }, { field: 'durationMinutes', reason: 'must be a whole number of minutes' }],
  ['zero minutes', extendBody, { durationMinutes: 0, reason: 'x' }, { field: 'durationMinutes', reason: 'must be more than 0' }],
  ['a string for a number', extendBody, { durationMinutes: '30', reason: 'x' }, { field: 'durationMinutes', reason: 'must be a number, not a string' }],
  ['an unknown view', listQuery, { view: 'everyone' }, { field: 'view', reason: 'must be one of: mine, awaiting, all' }],
  ['a page too large', listQuery, { limit: '101' }, { field: 'limit', reason: 'must be a whole number from 1 to 100' }],
  ['a page of a thousand', listQuery, { limit: '1000' }, { field: 'limit', reason: 'must be a whole number from 1 to 100' }],
  ['a page of more than JavaScript counts', listQuery, { limit: '99999999999999999999' }, { field: 'limit', reason: 'must be a whole number from 1 to 100' }],
  ['a page of none', listQuery, { limit: '0' }, { field: 'limit', reason: 'must be a whole number from 1 to 100' }],
  ['a negative page', listQuery, { limit: '-1' }, { field: 'limit', reason: 'must be a whole number from 1 to 100' }],
  ['a page size that is not a number', listQuery, { limit: 'abc' }, { field: 'limit', reason: 'must be a whole number from 1 to 100' }],
  ['a page size in hex', listQuery, { limit: '0x2' }, { field: 'limit', reason: 'must be a whole number from 1 to 100' }],
  ['a page size in exponent form', listQuery, { limit: '1e1' }, { field: 'limit', reason: 'must be a whole number from 1 to 100' }],
  ['a page size with a decimal point', listQuery, { limit: '2.0' }, { field: 'limit', reason: 'must be a whole number from 1 to 100' }],
  ['a page size with a space', listQuery, { limit: ' 2' }, { field: 'limit', reason: 'must be a whole number from 1 to 100' }],
  ['an infinite duration (JSON 1e999)', extendBody, JSON.parse('{"durationMinutes": 1e999, "reason": "x"}'), { field: 'durationMinutes', reason: 'must be a finite number' }],
  ['a principal ARN too long', createRequestBody, { ...good, principalArn: 'a'.repeat(2049) }, { field: 'principalArn', reason: 'must be at most 2048 characters' }],
])('names %s plainly', (_name, schema, input, detail) => {
  expect(reasons(schema, input)).toContainEqual(detail);
});

it('answers a bad duration in the same words for a request and an extension', () => {
  for (const durationMinutes of [undefined, '60', -5, 0, 1.5, null, true, 1e999]) {
    const asked = reasons(createRequestBody, { ...good, durationMinutes }).filter((d) => d.field === 'durationMinutes');
    expect(asked).toHaveLength(1);
    expect(reasons(extendBody, { durationMinutes, reason: 'x' })).toEqual(asked);
  }
  expect(reasons(createRequestBody, { ...good, durationMinutes: -5 })).toEqual([{ field: 'durationMinutes', reason: 'must be more than 0' }]);
});

it('names the account field that is wrong when there is not exactly one of account and accountId', () => {
  const { account: _none, ...withoutAccount } = good;
  expect(reasons(createRequestBody, withoutAccount)).toEqual([{ field: 'account', reason: 'is required (or accountId instead)' }]);
  expect(reasons(createRequestBody, { ...good, accountId: '333333333333' })).toEqual([{ field: 'accountId', reason: 'must not be given with account (give one of them)' }]);
});

it('keeps a schema\'s own message over the general wording', () => {
  // The general wording would be "must be a whole number" and "must be at most 1000 characters".
  expect(reasons(createRequestBody, { ...good, durationMinutes: 2.5 })).toContainEqual({ field: 'durationMinutes', reason: 'must be a whole number of minutes' });
  expect(reasons(createRequestBody, { ...good, reason: 'x'.repeat(1001) })).toContainEqual({ field: 'reason', reason: 'must be at most 1000 characters' });
  expect(reasons(createRequestBody, { ...good, ticket: 'a b' })).toContainEqual({ field: 'ticket', reason: 'must be 1–64 characters of letters, digits and ._#:/-' });
});
