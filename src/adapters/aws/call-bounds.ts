/*
 * How long any one AWS call may take, for the clients rolegate builds. Kept
 * apart from the clients so a function that bounds its DynamoDB calls does
 * not load the IAM and STS clients at cold start.
 *
 * `throwOnRequestTimeout` is what makes `requestTimeout` a bound: without
 * it, @smithy/node-http-handler only logs a warning when an answer is late
 * and keeps waiting, so a stalled connection held the invocation (and a
 * grant's lease) until the Lambda's own timeout. A late answer now ends as
 * a TimeoutError, which rolegate's retry (and the SDK's, for DynamoDB)
 * treats as transient.
 */

/** IAM and STS: 3 s to connect, 10 s to answer (withRetry allows an attempt 14 s of lease). */
export const AWS_CALL_BOUNDS = { connectionTimeout: 3_000, requestTimeout: 10_000, throwOnRequestTimeout: true } as const;

/**
 * DynamoDB: 3 s to connect, 5 s to answer. The SDK retries a timeout with
 * the same input, and so the same ClientRequestToken for a transaction, which
 * DynamoDB applies once.
 */
export const DYNAMODB_CALL_BOUNDS = { connectionTimeout: 3_000, requestTimeout: 5_000, throwOnRequestTimeout: true } as const;

/**
 * SSM Parameter Store (secrets): 1 s to connect, 3 s to answer, and the
 * client makes two attempts, about 9 s in all at worst (the SDK's default,
 * three attempts under the AWS bounds, was 39 s). A read is part of a Slack
 * answer, a Slack call or a webhook delivery, whose time the worker's
 * reserve counts; a read that fails serves the earlier value, if any.
 */
export const SSM_CALL_BOUNDS = { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true } as const;

/** The SSM client's attempts, the first included (see SSM_CALL_BOUNDS). */
export const SSM_MAX_ATTEMPTS = 2;
