/**
 * The Sid of the statement every role's inline policy ends with, denying
 * everything after the grant's end (documents.ts). Its own module, so the
 * configuration schema can reserve it without loading the document builders
 * at cold start.
 */
export const ACCESS_ENDS_SID = 'RolegateAccessEnds';
