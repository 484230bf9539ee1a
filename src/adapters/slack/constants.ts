/* Identifiers shared by the Block Kit builders and the interaction parser. */

export const APPROVE_ACTION_ID = 'rolegate_approve';
export const DENY_ACTION_ID = 'rolegate_deny';
/** The console link button of the access-ready message: Slack reports its clicks too; they are ignored. */
export const OPEN_CONSOLE_ACTION_ID = 'rolegate_open_console';
export const DENY_REASON_CALLBACK_ID = 'rolegate_deny_reason';
export const DENY_REASON_BLOCK_ID = 'rolegate_deny_reason_block';
export const DENY_REASON_ACTION_ID = 'rolegate_deny_reason_input';

/** Request ids, as the HTTP API checks them (upper case: the buttons carry them so, and commands upper-case them first). */
export { REQUEST_ID } from '../../domain/text';
/** Free text limit shared with the HTTP API (reason, comment). */
export const FREE_TEXT_MAX = 1000;
