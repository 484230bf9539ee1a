import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { routes } from '../src/handlers/http/routes';
import { openApiDocument } from '../src/handlers/http/openapi';
import { version } from '../package.json';

// Writes openapi.json from the route table and its zod schemas (a test checks it is current).
const file = join(__dirname, '..', 'openapi.json');
writeFileSync(file, `${JSON.stringify(openApiDocument(routes, version), null, 2)}\n`);
console.log(`wrote ${file}`);
