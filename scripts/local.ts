/*
 * `npm start`: rolegate on this machine, on its embedded defaults.
 * - a real DynamoDB engine (DynamoDB Local, in memory) with the table from serverless.yml;
 * - the HTTP API on http://127.0.0.1:3000 (PORT to change it), the caller named by the
 *   x-rolegate-principal header (honoured only in this local mode, never in Lambda);
 * - the provisioning worker in-process and the sweeper every minute;
 * - the configuration from ROLEGATE_CONFIG, by default config/rolegate.example.yaml,
 *   whose provisioner is dry-run: the plan is recorded, nothing is sent to AWS.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createTable, localClient, startDynamoDbLocal } from '../src/local/dynamodb-local';
import { BodyTooLargeError, toApiGatewayEvent } from '../src/local/http-event';

async function main(): Promise<void> {
  process.env.ROLEGATE_LOCAL = 'true';
  process.env.ROLEGATE_TABLE ??= 'rolegate-local';
  process.env.AWS_REGION ??= 'us-east-1';
  const port = Number(process.env.PORT ?? 3000);

  const dynamo = await startDynamoDbLocal(process.env.ROLEGATE_DYNAMODB_PORT ? { port: Number(process.env.ROLEGATE_DYNAMODB_PORT) } : {});
  process.env.ROLEGATE_DYNAMODB_ENDPOINT = dynamo.endpoint;
  const admin = localClient(dynamo.endpoint);
  await createTable(admin, process.env.ROLEGATE_TABLE);
  admin.destroy();

  // Loaded after the environment is set: compose reads it once.
  const { getApp } = await import('../src/compose');
  const { httpApp } = await import('../src/handlers/http/app');
  const { routes } = await import('../src/handlers/http/routes');
  const { interactiveDeps } = await import('../src/handlers/lease-waits');
  const { identityOptionsFor } = await import('../src/handlers/http/middlewares');
  const { sweep } = await import('../src/domain/use-cases/sweep');
  const { reconcile } = await import('../src/domain/use-cases/reconcile');
  const app = getApp();
  const deps = interactiveDeps(app.deps);
  const api = httpApp(routes, () => deps, app.logger, identityOptionsFor(app.deps.settings, app.env.localIdentity));
  const { slackApp } = await import('../src/handlers/slack/app');
  const slack = app.slack
    ? slackApp({ settings: app.deps.settings, ...app.slack, slack: app.slack.api, logger: app.logger, now: () => new Date(), ...(app.runSlackJobInProcess ? { runInProcess: app.runSlackJobInProcess } : {}) })
    : undefined;
  const handler = (event: never, context: never) =>
    slack && (event as { rawPath: string }).rawPath.startsWith('/slack/') ? slack(event) : api(event, context);

  const server = createServer((req, res) => {
    void serve(req, res, handler).catch((e) => {
      app.logger.error('local server error', { error: String(e) });
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  const sweepSeconds = Number(process.env.ROLEGATE_SWEEP_SECONDS ?? 60);
  const timer = setInterval(() => {
    void sweep(app.deps).catch((e) => app.logger.error('sweep failed', { error: String(e) }));
  }, sweepSeconds * 1000);
  const reconcileTimer = setInterval(() => {
    void reconcile(app.deps).catch((e) => app.logger.error('reconciliation failed', { error: String(e) }));
  }, 15 * 60_000);

  console.log(
    [
      `rolegate is running on http://127.0.0.1:${port}`,
      `  configuration: ${app.env.configPath} (provisioner: ${app.deps.settings.provisioner.mode})`,
      `  DynamoDB Local: ${dynamo.endpoint}, table ${app.env.tableName}`,
      `  name the caller with: -H 'x-rolegate-principal: arn:aws:iam::111111111111:user/alice'`,
      `  sweeper every ${sweepSeconds} s; Ctrl-C to stop`,
    ].join('\n'),
  );

  const shutdown = async () => {
    clearInterval(timer);
    clearInterval(reconcileTimer);
    server.close();
    await app.drain?.();
    await dynamo.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

async function serve(req: IncomingMessage, res: ServerResponse, handler: (event: never, context: never) => Promise<unknown>): Promise<void> {
  let event;
  try {
    event = await toApiGatewayEvent(req);
  } catch (e) {
    if (!(e instanceof BodyTooLargeError)) throw e;
    res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'PAYLOAD_TOO_LARGE', message: 'The body is too large.' }));
    return;
  }
  const context = { awsRequestId: event.requestContext.requestId, getRemainingTimeInMillis: () => 30_000, functionName: 'local' };
  const result = (await handler(event as never, context as never)) as { statusCode: number; headers?: Record<string, string>; body?: string };
  res.writeHead(result.statusCode, result.headers ?? {});
  res.end(result.body ?? '');
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
