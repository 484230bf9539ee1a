import { ARN } from '../../helpers/settings';
import { apiEvent, call, lambdaContext, type EventInput } from '../../helpers/events';
import { harness, type Harness } from '../../helpers/harness';
import { allItems } from '../../helpers/table';
import { httpApp } from '../../../src/handlers/http/app';
import type { RouteDef } from '../../../src/handlers/http/route';
import { ConfigError } from '../../../src/domain/errors';

const good = { account: 'production', profile: 'ReadOnly', durationMinutes: 60, reason: 'Investigate' };

describe('HTTP API: every bad input is a clear 4xx and changes nothing', () => {
  let h: Harness;
  let pendingId: string;
  beforeAll(async () => {
    h = await harness();
    pendingId = (await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: good })).body.request.id;
  });
  afterAll(async () => {
    await h.close();
  });

  it('tells a profile name in the wrong case that names are case-sensitive, and an unknown one only that it is unknown', async () => {
    const wrongCase = await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, profile: 'readonly' } });
    expect(wrongCase.status).toBe(404);
    expect(wrongCase.body.message).toBe('No access profile is named "readonly". Profile names are case-sensitive: `rolegate catalog` lists yours.');
    const unknown = await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, profile: 'Admin' } });
    expect(unknown.body.message).toBe('No access profile is named "Admin".');
  });

  const cases: [string, EventInput, number, string, { field: string; reason: string }?][] = [
    ['unknown account', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, account: 'nope' } }, 404, 'NOT_FOUND'],
    ['unknown account id', { method: 'POST', path: '/requests', caller: ARN.alice, body: { profile: 'ReadOnly', durationMinutes: 60, reason: 'x', accountId: '999999999999' } }, 404, 'NOT_FOUND'],
    ['unknown profile', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, profile: 'Admin' } }, 404, 'NOT_FOUND'],
    ['an account alias in capitals', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, account: 'PRODUCTION' } }, 400, 'VALIDATION_FAILED', { field: 'account', reason: 'must be an account alias (lower-case letters, digits and -) or a 12-digit account id' }],
    ['duration above the rule maximum', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, durationMinutes: 241 } }, 403, 'FORBIDDEN', { field: 'durationMinutes', reason: "above the rule's maximum of 240" }],
    ['duration below 15 minutes', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, durationMinutes: 14 } }, 400, 'VALIDATION_FAILED', { field: 'durationMinutes', reason: 'below the minimum of 15' }],
    ['fractional duration', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, durationMinutes: 30.5 } }, 400, 'VALIDATION_FAILED', { field: 'durationMinutes', reason: 'must be a whole number of minutes' }],
    ['a duration no rule could allow (more than 30 days, here past 2^53)', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, durationMinutes: 1e20 } }, 400, 'VALIDATION_FAILED', { field: 'durationMinutes', reason: 'must be at most 43200 minutes (30 days), the most any rule allows' }],
    ['an extension of more than 30 days', { method: 'POST', path: '/requests/PENDING/extend', caller: ARN.alice, body: { durationMinutes: 43201, reason: 'more' } }, 400, 'VALIDATION_FAILED', { field: 'durationMinutes', reason: 'must be at most 43200 minutes (30 days), the most any rule allows' }],
    ['duration as a string', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, durationMinutes: '60' } }, 400, 'VALIDATION_FAILED', { field: 'durationMinutes', reason: 'must be a number, not a string' }],
    ['extension of a negative duration', { method: 'POST', path: '/requests/PENDING/extend', caller: ARN.alice, body: { durationMinutes: -5, reason: 'more' } }, 400, 'VALIDATION_FAILED', { field: 'durationMinutes', reason: 'must be more than 0' }],
    ['missing reason', { method: 'POST', path: '/requests', caller: ARN.alice, body: { account: 'production', profile: 'ReadOnly', durationMinutes: 60 } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'is required' }],
    ['blank reason', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: '   ' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not be empty' }],
    ['reason with control characters', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'a\u0000b' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['reason with a C1 control character (CSI)', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'approved\u009bdeny' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['reason with a right-to-left override', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'approved\u202edeny' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['reason with a zero-width space', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'approved\u200bdeny' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['reason with a line separator', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'approved\u2028deny' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['reason with an Arabic letter mark (a text-direction character)', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'approved\u061cdeny' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['reason with tag characters (a hidden second text)', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'ok \u{E0061}\u{E0070}\u{E0070}\u{E0072}\u{E006F}\u{E0076}\u{E0065}' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['reason with a Hangul filler (a letter that draws nothing)', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'approved\u3164deny' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['reason with variation selectors other than emoji\'s (a hidden text, byte by byte)', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'ok \u{E0100}\u{E0101}\ufe01' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['reason with a soft hyphen', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'appro\u00adved' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['reason with a bidi isolate', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'approved\u2066deny' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['reason with a byte-order mark', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'approved\ufeffdeny' } }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must not hold control, invisible or text-direction characters' }],
    ['approval comment with a right-to-left override', { method: 'POST', path: '/requests/PENDING/approve', caller: ARN.leadAnna, body: { comment: 'ok \u202edenied' } }, 400, 'VALIDATION_FAILED', { field: 'comment', reason: 'must not hold control, invisible or text-direction characters' }],
    ['principal that is not an IAM user or role', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, principalArn: 'arn:aws:iam::111111111111:root' } }, 400, 'VALIDATION_FAILED'],
    ['wildcard principal', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, principalArn: 'arn:aws:iam::111111111111:role/*' } }, 400, 'VALIDATION_FAILED'],
    ['account id of 11 digits', { method: 'POST', path: '/requests', caller: ARN.alice, body: { profile: 'ReadOnly', durationMinutes: 60, reason: 'x', accountId: '33333333333' } }, 400, 'VALIDATION_FAILED', { field: 'accountId', reason: 'must be a 12-digit AWS account id' }],
    ['both accountId and account', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, accountId: '333333333333' } }, 400, 'VALIDATION_FAILED', { field: 'accountId', reason: 'must not be given with account (give one of them)' }],
    ['neither accountId nor account', { method: 'POST', path: '/requests', caller: ARN.alice, body: { profile: 'ReadOnly', durationMinutes: 60, reason: 'x' } }, 400, 'VALIDATION_FAILED', { field: 'account', reason: 'is required (or accountId instead)' }],
    ['unknown field', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, admin: true } }, 400, 'VALIDATION_FAILED', { field: 'admin', reason: 'is not a known field' }],
    ['requester named in the body', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, requester: ARN.leadAnna } }, 400, 'VALIDATION_FAILED', { field: 'requester', reason: 'is not a known field' }],
    ['invalid JSON', { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: '{"account": "production",' }, 400, 'INVALID_JSON'],
    // JSON.parse keeps the last; a proxy or a log reader may keep the first: never two readings of one body.
    ['a key twice', { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: JSON.stringify(good).replace('{', '{"account":"staging",') }, 400, 'INVALID_JSON'],
    ['a key twice, once escaped', { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: JSON.stringify(good).replace('{', '{"\\u0061ccount":"staging",') }, 400, 'INVALID_JSON'],
    // js-yaml stops 100 levels deep: a duplicate past such nesting must not slip through (fails closed).
    ['a key twice after deep nesting', { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: `{"x":${'['.repeat(101)}${']'.repeat(101)},"account":"staging",${JSON.stringify(good).slice(1)}` }, 400, 'INVALID_JSON'],
    ['a key twice in a nested object', { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: JSON.stringify({ ...good, x: { a: 1 } }).replace('{"a":1}', '{"a":1,"a":2}') }, 400, 'INVALID_JSON'],
    ['reason with a lone surrogate', { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: JSON.stringify(good).replace('Investigate', 'a\\ud800b') }, 400, 'VALIDATION_FAILED', { field: 'reason', reason: 'must be well-formed Unicode (it holds half of a surrogate pair)' }],
    ['a JSON array', { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: '[1,2]' }, 400, 'VALIDATION_FAILED', { field: '(body)', reason: 'must be a JSON object' }],
    ['null as the body (not "no body")', { method: 'POST', path: '/requests/PENDING/cancel', caller: ARN.alice, rawBody: 'null' }, 400, 'VALIDATION_FAILED', { field: '(body)', reason: 'must be a JSON object' }],
    ['a body in another charset', { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: JSON.stringify(good), headers: { 'content-type': 'application/json; charset=latin1' } }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['wrong content type', { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: 'account=production', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['oversized body', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: 'x'.repeat(17 * 1024) } }, 413, 'PAYLOAD_TOO_LARGE'],
    // The limit is in bytes of UTF-8, as its message says, not in characters: 6,000 '€' are 18,000 bytes.
    ['body over 16 KiB in UTF-8 though fewer characters', { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason: '€'.repeat(6000) } }, 413, 'PAYLOAD_TOO_LARGE'],
    ['empty body', { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: '' }, 400, 'VALIDATION_FAILED', { field: '(body)', reason: 'is missing' }],
    ['malformed request id', { method: 'GET', path: '/requests/not-an-id', caller: ARN.alice }, 400, 'VALIDATION_FAILED', { field: 'id', reason: 'must be a request id (26-character ULID)' }],
    ['a request id past the last ULID (its first character above 7)', { method: 'GET', path: '/requests/81M86KWR0000000000000000AB', caller: ARN.alice }, 400, 'VALIDATION_FAILED', { field: 'id', reason: 'must be a request id (26-character ULID)' }],
    ['unknown request', { method: 'POST', path: '/requests/01J0000000000000000000000Z/approve', caller: ARN.leadAnna }, 404, 'NOT_FOUND'],
    ['unknown query parameter', { method: 'GET', path: '/requests', caller: ARN.alice, query: { owner: ARN.leadAnna } }, 400, 'VALIDATION_FAILED', { field: 'owner', reason: 'is not a known field' }],
    ['limit out of range', { method: 'GET', path: '/requests', caller: ARN.alice, query: { limit: '1000' } }, 400, 'VALIDATION_FAILED', { field: 'limit', reason: 'must be a whole number from 1 to 100' }],
    ['limit in hex', { method: 'GET', path: '/requests', caller: ARN.alice, query: { limit: '0x2' } }, 400, 'VALIDATION_FAILED'],
    ['forged cursor', { method: 'GET', path: '/requests', caller: ARN.alice, query: { cursor: 'eyJwayI6IlJFUSMxIn0' } }, 400, 'VALIDATION_FAILED'],
    ['unknown route', { method: 'GET', path: '/admin', caller: ARN.alice }, 404, 'ROUTE_NOT_FOUND'],
    ['wrong method', { method: 'DELETE', path: '/requests', caller: ARN.alice }, 405, 'METHOD_NOT_ALLOWED'],
    ['unsigned call', { method: 'POST', path: '/requests', body: good }, 401, 'UNAUTHENTICATED'],
    ['account root caller', { method: 'POST', path: '/requests', caller: 'arn:aws:iam::111111111111:root', body: good }, 403, 'FORBIDDEN'],
    ['caller with no rule', { method: 'POST', path: '/requests', caller: 'arn:aws:iam::999999999999:user/mallory', body: good }, 403, 'FORBIDDEN'],
    ['approval by a non-approver', { method: 'POST', path: '/requests/PENDING/approve', caller: ARN.bob, body: {} }, 403, 'FORBIDDEN'],
    ['deny with an unknown field', { method: 'POST', path: '/requests/PENDING/deny', caller: ARN.leadAnna, body: { comment: 'no', approve: true } }, 400, 'VALIDATION_FAILED'],
  ];

  const rows = cases.map(([name, input, status, code, detail]) => ({ name, input, status, code, detail }));
  it.each(rows)('$name → $status $code', async ({ input, status, code, detail }) => {
    const before = await allItems(h);
    const res = await call(h.api, { ...input, path: input.path.replace('PENDING', pendingId) });
    expect(res.status).toBe(status);
    expect(res.body.error).toBe(code);
    expect(typeof res.body.message).toBe('string');
    expect(res.body.message.length).toBeGreaterThan(10);
    if (detail) expect(res.body.details).toContainEqual(detail);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(await allItems(h)).toEqual(before);
  });

  it('says of a duration past 2^53 only that it is over the most any rule allows, not also that it is no whole number', async () => {
    const res = await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, durationMinutes: 1e20 } });
    expect(res.body.details).toEqual([{ field: 'durationMinutes', reason: 'must be at most 43200 minutes (30 days), the most any rule allows' }]);
  });

  it('names the methods a route takes in the Allow header of a 405', async () => {
    const res = await call(h.api, { method: 'DELETE', path: `/requests/${pendingId}`, caller: ARN.alice });
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET');
  });

  it('takes a reason or ticket that quotes a key (its text is no key), with whitespace before the colons, as one key each', async () => {
    const reason = 'set "account": "staging" \\" then "profile" : x';
    const spaced = `{"account" :\n "production", "profile"\t: "ReadOnly", "durationMinutes": 60, "reason" : ${JSON.stringify(reason)}, "ticket": "INC-42"}`;

    const res = await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: spaced });

    expect(res.status).toBe(201);
    expect(res.body.request).toMatchObject({ accountAlias: 'production', profile: 'ReadOnly', reason, ticket: 'INC-42' });
  });

  it('reads a JSON body that starts with a byte-order mark, as sent or base64-encoded, and one with charset UTF-8', async () => {
    const body = JSON.stringify({ ...good, reason: 'sent with a BOM' });
    const plain = await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: `\ufeff${body}` });
    const encoded = await h.api(
      { ...apiEvent({ method: 'POST', path: '/requests', caller: ARN.alice, rawBody: Buffer.from(`\ufeff${body}`, 'utf8').toString('base64') }), isBase64Encoded: true },
      lambdaContext(),
    );
    const utf8 = await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, rawBody: body, headers: { 'content-type': 'application/json; charset="UTF-8"' } });
    expect([plain.status, encoded.statusCode, utf8.status]).toEqual([201, 201, 201]);
    expect(plain.body.request.reason).toBe('sent with a BOM');
  });

  it('refuses a body of bytes that are not UTF-8 (415), whose text Buffer would have read with U+FFFD in it', async () => {
    const latin1 = Buffer.from(JSON.stringify({ ...good, reason: 'café' }), 'latin1'); // é as the one byte 0xE9
    const before = await allItems(h);
    const res = await h.api({ ...apiEvent({ method: 'POST', path: '/requests', caller: ARN.alice, rawBody: latin1.toString('base64') }), isBase64Encoded: true }, lambdaContext());
    expect(res.statusCode).toBe(415);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'UNSUPPORTED_MEDIA_TYPE', message: 'Send the body as application/json in UTF-8: it holds bytes that are not UTF-8.' });
    expect(await allItems(h)).toEqual(before);
  });

  it('keeps a reason in any script as typed: accents, right-to-left text, and the joiners that scripts and emoji sequences need', async () => {
    const reason = 'Résumé du déploiement — مراجعه\u200cی لاگ‌ها — on-call 👩\u200d💻 ❤\ufe0f 👍🏽, ticket ①';
    const res = await call(h.api, { method: 'POST', path: '/requests', caller: ARN.alice, body: { ...good, reason } });
    expect(res.status).toBe(201);
    expect(res.body.request.reason).toBe(reason);
    expect((await h.requests.get(res.body.request.id))!.reason).toBe(reason);
  });

  /** What the API answers when its one route throws `error`, asked with this correlation id. */
  async function answerWhenThrowing(error: Error, correlationId: string) {
    const failing: RouteDef = {
      method: 'GET',
      path: '/failing',
      summary: 'fails',
      status: 200,
      response: 'Health',
      handle: () => {
        throw error;
      },
    };
    const api = httpApp([failing], () => h.deps, h.logger, { localIdentity: false });
    const result = await api(apiEvent({ method: 'GET', path: '/failing', caller: ARN.alice, headers: { 'x-correlation-id': correlationId } }), lambdaContext());
    return { status: result.statusCode, body: JSON.parse(result.body) as unknown, text: result.body };
  }
  const OPAQUE = 'Something went wrong on our side. Quote the correlation id when you report it.';

  it('answers an unexpected error with an opaque 500 naming only the correlation id', async () => {
    const answer = await answerWhenThrowing(new Error('connect ECONNREFUSED 10.0.0.1:5432 secret=hunter2'), 'corr-12345678');
    expect([answer.status, answer.body]).toEqual([500, { error: 'INTERNAL', message: OPAQUE, correlationId: 'corr-12345678' }]);
    expect(answer.text).not.toContain('hunter2');
    expect(h.logger.lines.some((l) => l.level === 'error' && JSON.stringify(l.fields).includes('ECONNREFUSED'))).toBe(true);
  });

  it('answers a broken configuration (CONFIG_INVALID) as the same opaque 500, a code the OpenAPI document need not list', async () => {
    const answer = await answerWhenThrowing(new ConfigError('Cannot read the secret parameter /rolegate/slack/bot-token from SSM (AccessDenied).'), 'corr-87654321');
    expect([answer.status, answer.body]).toEqual([500, { error: 'INTERNAL', message: OPAQUE, correlationId: 'corr-87654321' }]);
    expect(answer.text).not.toContain('/rolegate/slack');
  });

  it('answers with the caller\'s x-correlation-id when well-formed, success or error, and with API Gateway\'s request id instead of any other', async () => {
    const id = 'c0ffee00-0000-4000-8000-000000000001';
    const ok = await call(h.api, { method: 'GET', path: '/catalog', caller: ARN.alice, headers: { 'x-correlation-id': id } });
    const refused = await call(h.api, { method: 'GET', path: '/catalog', headers: { 'X-Correlation-Id': id } });
    expect([ok.status, ok.headers['x-correlation-id'], refused.status, refused.headers['x-correlation-id']]).toEqual([200, id, 401, id]);
    // Too short, a character outside letters, digits and -, too long: ignored, not refused.
    for (const given of ['short', 'has space 12345', 'x'.repeat(65)]) {
      const event = apiEvent({ method: 'GET', path: '/catalog', caller: ARN.alice, headers: { 'x-correlation-id': given } });
      const result = await h.api(event, lambdaContext());
      expect({ given, status: result.statusCode, correlationId: result.headers['x-correlation-id'] }).toEqual({ given, status: 200, correlationId: event.requestContext.requestId });
    }
  });
});
