/** `rolegate-<request id>`, within STS's 2–64 characters of [\w+=,.@-]. */
export function sessionName(requestId: string): string {
  return `rolegate-${requestId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}
