import * as z from 'zod/mini';
import '../../domain/zod-locale';
import { MAX_RULE_MINUTES, REQUEST_STATUSES } from '../../domain/model';
import { ACCOUNT_REF, HIDDEN_CHARACTERS, HIDDEN_CHARACTERS_REASON, LONE_SURROGATE, LONE_SURROGATE_REASON, NAME, REQUEST_ID_ANY_CASE, TICKET_ID } from '../../domain/text';

/*
 * The shapes the HTTP API accepts. The handlers validate with these and the
 * OpenAPI document is generated from them: one source of truth. Objects are
 * strict: an unknown field is refused, never ignored.
 */

// Free text (a reason, a comment): tabs and newlines allowed; control, invisible and text-direction characters
// refused (domain/text.ts). One schema for every such field, built once: schemas are immutable.
const TEXT_MAX = 1000;
const text = z
  .string()
  .check(
    z.trim(),
    z.minLength(1, { message: 'must not be empty' }),
    z.maxLength(TEXT_MAX, { message: `must be at most ${TEXT_MAX} characters` }),
    z.refine((s) => !HIDDEN_CHARACTERS.test(s), { message: HIDDEN_CHARACTERS_REASON }),
    z.refine((s) => !LONE_SURROGATE.test(s), { message: LONE_SURROGATE_REASON }),
  );
const optionalText = z.optional(text);

// A ULID's letters are case-insensitive (Crockford base32): a lower-case id is the same request, stored upper-case.
export const requestId = z.pipe(
  z.string().check(z.regex(REQUEST_ID_ANY_CASE, { message: 'must be a request id (26-character ULID)' })),
  z.transform((id) => id.toUpperCase()),
);

export const idParams = z.strictObject({ id: requestId });

/** A client's key for one intent, kept 24 hours: a UUID fits, as does any 8–128 letters, digits and _.:- */
export const idempotencyKey = z.string().check(z.regex(/^[A-Za-z0-9_.:-]{8,128}$/, { message: 'must be 8–128 letters, digits and _.:- (a UUID fits)' }));

// One schema, so a request and an extension answer a bad duration in the same words.
// Bounded by what any rule may allow (30 days), so a huge number is told so, not that it is no whole number (zod's int stops at 2^53).
const durationMinutes = z.number().check(z.maximum(MAX_RULE_MINUTES, { message: `must be at most ${MAX_RULE_MINUTES} minutes (30 days), the most any rule allows`, abort: true }), z.int({ message: 'must be a whole number of minutes' }), z.positive());

/** A caller's own id for a call, echoed in the reply and written in every log line of it: another value is ignored, not refused. */
export const correlationId = z.string().check(z.regex(/^[A-Za-z0-9-]{8,64}$/));

export const createRequestBody = z
  .strictObject({
    accountId: z.optional(z.string().check(z.regex(/^\d{12}$/, { message: 'must be a 12-digit AWS account id' }))),
    account: z.optional(z.string().check(z.regex(ACCOUNT_REF, { message: 'must be an account alias (lower-case letters, digits and -) or a 12-digit account id' }))),
    profile: z.string().check(z.regex(NAME, { message: 'must be a profile name (letters, digits, _ or -)' })),
    durationMinutes,
    reason: text,
    ticket: z.optional(z.string().check(z.regex(TICKET_ID, { message: 'must be 1–64 characters of letters, digits and ._#:/-' }))),
    principalArn: z.optional(z.string().check(z.maxLength(2048))),
  })
  .check(
    // Exactly one of them, each refusal reading after the field it names.
    z.refine((b) => b.accountId !== undefined || b.account !== undefined, { message: 'is required (or accountId instead)', path: ['account'] }),
    z.refine((b) => b.accountId === undefined || b.account === undefined, { message: 'must not be given with account (give one of them)', path: ['accountId'] }),
    // The same rule for the OpenAPI document, as zod cannot write a refinement into JSON Schema: a oneOf of the
    // two `required` fails, as the refinements do, when neither is given (no branch matches) or both are (two do).
    z.meta({ oneOf: [{ required: ['account'] }, { required: ['accountId'] }] }),
  );

export const approveBody = z.strictObject({ comment: optionalText });
export const denyBody = z.strictObject({ comment: text });
export const revokeBody = z.strictObject({ comment: optionalText });
export const cancelBody = z.strictObject({});
export const retryBody = z.strictObject({ comment: optionalText });
export const extendBody = z.strictObject({
  durationMinutes,
  reason: text,
});

const PAGE_SIZE = 'must be a whole number from 1 to 100';

export const listQuery = z.strictObject({
  view: z._default(z.enum(['mine', 'awaiting', 'all']), 'mine'),
  status: z.optional(z.enum(REQUEST_STATUSES)),
  // Digits only: Number() would also take "0x2", "1e1", " 2" and "2.0". One reason for every way to miss.
  limit: z._default(
    z.pipe(
      z.string().check(z.regex(/^[0-9]{1,3}$/, { message: PAGE_SIZE })),
      // The regex already makes it whole; z.int() says so to the OpenAPI document (an integer, not any number).
      z.pipe(z.transform(Number), z.number().check(z.int({ message: PAGE_SIZE }), z.gte(1, { message: PAGE_SIZE }), z.lte(100, { message: PAGE_SIZE }))),
    ),
    25,
  ),
  // Empty is refused, not read as none: a client passing `cursor=` for "no more pages" would start over for ever.
  cursor: z.optional(z.string().check(z.minLength(1, { message: 'must not be empty: leave it out for the first page' }), z.maxLength(2048))),
});

export const emptyQuery = z.strictObject({});
