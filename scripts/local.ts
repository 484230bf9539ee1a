/*
 * `npm start`: rolegate on this machine, on its embedded defaults.
 * - a real DynamoDB engine (DynamoDB Local, in memory) with the table from serverless.yml;
 * - the HTTP API on http://127.0.0.1:3000 (PORT to change it), the caller named by the
 *   x-rolegate-principal header (honoured only in this local mode, never in Lambda);
 * - the provisioning worker in-process and the sweeper every minute;
 * - the configuration from ROLEGATE_CONFIG, by default config/rolegate.example.yaml,
 *   whose provisioner is dry-run: the plan is recorded, nothing is sent to AWS;
 * - it refuses a configuration that provisions for real unless ROLEGATE_LOCAL_ALLOW_AWS=true,
 *   answers only requests addressed to 127.0.0.1 or localhost on its port (no DNS
 *   rebinding), and starts DynamoDB Local only once the configuration and the port are good.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { loadSettings } from '../src/config';
import { readEnv } from '../src/environment';
import type { Settings } from '../src/domain/settings';
import { createTable, localClient, startDynamoDbLocal, type RunningDynamo } from '../src/local/dynamodb-local';
import { isLocalHost, localPort, localRunRefusal, localSecretsRefusal, secretNamesOf } from '../src/local/guards';
import { BodyTooLargeError, toApiGatewayEvent } from '../src/local/http-event';

type Handler = (event: never, context: never) => Promise<unknown>;

async function main(): Promise<void> {
  process.env.ROLEGATE_LOCAL = 'true';
  process.env.ROLEGATE_TABLE ??= 'rolegate-local';
  process.env.AWS_REGION ??= 'us-east-1';
  const port = localPort(process.env.PORT);

  // The configuration is checked and the port taken before DynamoDB Local starts: a mistake leaves nothing running.
  const env = readEnv();
  const settings = loadSettings(env.configPath, env.deployment);
  const refusal = localRunRefusal(settings.provisioner.mode, process.env) ?? localSecretsRefusal(secretNamesOf(settings), process.env);
  if (refusal) throw new Error(refusal);
  let handler: Handler | undefined;
  const server = createServer((req, res) => {
    if (!isLocalHost(req.headers.host, port)) {
      json(res, 421, { error: 'MISDIRECTED_REQUEST', message: `This local server answers only http://127.0.0.1:${port} and http://localhost:${port}.` });
      return;
    }
    if (!handler) {
      json(res, 503, { error: 'STARTING', message: 'rolegate is still starting.' });
      return;
    }
    void serve(req, res, handler).catch((e) => {
      console.error('local server error', String(e));
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(e.code === 'EADDRINUSE' ? new Error(`Port ${port} is in use: set PORT to another.`) : e));
    server.listen(port, '127.0.0.1', resolve);
  });

  // Stopped at any point, DynamoDB Local (a separate Java process) stops with it.
  let dynamo: RunningDynamo | undefined;
  let stopApp: (() => Promise<void>) | undefined;
  const stop = async () => {
    server.close();
    await stopApp?.();
    await dynamo?.stop();
  };
  const shutdown = () => void stop().finally(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  try {
    dynamo = await startDynamoDbLocal(process.env.ROLEGATE_DYNAMODB_PORT ? { port: Number(process.env.ROLEGATE_DYNAMODB_PORT) } : {});
    stopApp = await started(dynamo, port, settings, (h) => (handler = h));
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The table, the app and its timers on a running DynamoDB Local; returns what stops the timers and drains the app. */
async function started(dynamo: RunningDynamo, port: number, settings: Settings, serveWith: (h: Handler) => void): Promise<() => Promise<void>> {
  process.env.ROLEGATE_DYNAMODB_ENDPOINT = dynamo.endpoint;
  const admin = localClient(dynamo.endpoint);
  await createTable(admin, process.env.ROLEGATE_TABLE!);
  admin.destroy();

  // Loaded after the environment is set: compose reads it once.
  const { composeApp } = await import('../src/compose');
  const { IN_PROCESS } = await import('../src/local/in-process');
  const { httpApp } = await import('../src/handlers/http/app');
  const { routes } = await import('../src/handlers/http/routes');
  const { interactiveDeps } = await import('../src/handlers/lease-waits');
  const { identityOptionsFor } = await import('../src/handlers/http/middlewares');
  const { sweep } = await import('../src/domain/use-cases/sweep');
  const { reconcile } = await import('../src/domain/use-cases/reconcile');
  // The configuration checked above, not read a second time.
  // Provisioning and Slack jobs run in this process, as the worker runs them deployed.
  const app = composeApp({ settings, inProcess: IN_PROCESS });
  const deps = interactiveDeps(app.deps);
  const api = httpApp(routes, () => deps, app.logger, identityOptionsFor(app.deps.settings, app.env.localIdentity));
  const { slackApp } = await import('../src/handlers/slack/app');
  const slack = app.slack
    ? slackApp({ settings: app.deps.settings, ...app.slack, slack: app.slack.api, logger: app.logger, now: () => new Date(), ...(app.runSlackJobInProcess ? { runInProcess: app.runSlackJobInProcess } : {}) })
    : undefined;
  serveWith((event: never, context: never) => (slack && (event as { rawPath: string }).rawPath.startsWith('/slack/') ? slack(event) : api(event, context)));

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
      // The CLI's --as alone finds the local run on port 3000 only: on another port it needs the address.
      `  CLI: npx rolegate ${port === 3000 ? '' : `--api http://127.0.0.1:${port} `}--as arn:aws:iam::111111111111:user/alice catalog`,
      ...(app.deps.settings.provisioner.mode === 'aws' ? ['  ROLEGATE_LOCAL_ALLOW_AWS=true: IAM in real accounts changes, for any caller the header names'] : []),
      ...(settings.slack ? [`  Slack: POST /slack/commands and /slack/interactions, signed with the configured signing secret; replies go to slack.com with the bot token`] : []),
      `  sweeper every ${sweepSeconds} s; Ctrl-C to stop`,
    ].join('\n'),
  );

  return async () => {
    clearInterval(timer);
    clearInterval(reconcileTimer);
    await app.drain?.();
  };
}

function json(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

async function serve(req: IncomingMessage, res: ServerResponse, handler: Handler): Promise<void> {
  let event;
  try {
    event = await toApiGatewayEvent(req);
  } catch (e) {
    if (!(e instanceof BodyTooLargeError)) throw e;
    json(res, 413, { error: 'PAYLOAD_TOO_LARGE', message: 'The body is too large.' });
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
