import { z } from 'zod';
import { REQUEST_STATUSES } from '../../domain/model';

/*
 * The shapes the HTTP API accepts. The handlers validate with these and the
 * OpenAPI document is generated from them: one source of truth. Objects are
 * strict: an unknown field is refused, never ignored.
 */

// Free text: tabs and newlines allowed, other control characters refused.
const freeText = (max: number) =>
  z
    .string()
    .trim()
    .min(1, { message: 'must not be empty' })
    .max(max, { message: `must be at most ${max} characters` })
    .refine((s) => !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(s), { message: 'must not hold control characters' });

export const requestId = z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, { message: 'must be a request id (26-character ULID)' });

export const idParams = z.strictObject({ id: requestId });

export const createRequestBody = z
  .strictObject({
    accountId: z.string().regex(/^\d{12}$/, { message: 'must be a 12-digit AWS account id' }).optional(),
    account: z.string().regex(/^(\d{12}|[a-z0-9][a-z0-9-]{0,62})$/, { message: 'must be an account alias or a 12-digit account id' }).optional(),
    profile: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/, { message: 'must be a profile name (letters, digits, _ or -)' }),
    durationMinutes: z.number({ message: 'must be a number of minutes' }).int({ message: 'must be a whole number of minutes' }).positive({ message: 'must be positive' }),
    reason: freeText(1000),
    ticket: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._#:/-]{0,63}$/, { message: 'must be 1–64 characters of letters, digits and ._#:/-' }).optional(),
    principalArn: z.string().max(2048).optional(),
  })
  .refine((b) => (b.accountId === undefined) !== (b.account === undefined), {
    message: 'give exactly one of accountId or account',
    path: ['accountId'],
  });

export const approveBody = z.strictObject({ comment: freeText(1000).optional() });
export const denyBody = z.strictObject({ comment: freeText(1000) });
export const revokeBody = z.strictObject({ comment: freeText(1000).optional() });
export const cancelBody = z.strictObject({});
export const retryBody = z.strictObject({ comment: freeText(1000).optional() });
export const extendBody = z.strictObject({
  durationMinutes: z.number().int().positive(),
  reason: freeText(1000),
});

export const listQuery = z.strictObject({
  view: z.enum(['mine', 'awaiting', 'all']).default('mine'),
  status: z.enum(REQUEST_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
  cursor: z.string().max(2048).optional(),
});

export const emptyQuery = z.strictObject({});
