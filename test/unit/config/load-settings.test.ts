import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_CONFIG } from '../../helpers/settings';
import { loadSettings } from '../../../src/config';
import { ConfigError } from '../../../src/domain/errors';

/** A broken configuration fails a Lambda's cold start, and its message is logged as is: it must not quote the file. */
describe('a configuration file that does not parse', () => {
  const SECRET = 'ext-id-s3cr3t-4f9a';
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'rolegate-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const failureOf = (name: string, text: string): ConfigError => {
    const path = join(dir, name);
    writeFileSync(path, text);
    try {
      loadSettings(path);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return e as ConfigError;
    }
    throw new Error(`${name} parsed`);
  };

  it.each([
    ['bad.yaml', `accounts:\n  - id: '333333333333'\n    externalId: ${SECRET}\n      alias: production\n`, 'YAML: bad indentation of a mapping entry at line 4, column 12'],
    ['token.json', `{"accounts": [{"externalId": ${SECRET}}]}`, 'JSON: syntax error (an unexpected character)'],
    ['comma.json', `{"accounts": [{"id": "333333333333",\n "externalId": "${SECRET}",}]}`, 'JSON: syntax error at line 2, column 37'],
    ['short.json', `{"accounts": [{"externalId": "${SECRET}"`, 'JSON: syntax error at line 1, column 50'],
    ['empty.json', '', 'JSON: it ends before the document does'],
    // JSON.parse keeps the last of two equal keys: a reviewer would read the first.
    ['twice.json', `{"partition": "aws",\n "partition": "${SECRET}"}`, 'JSON: duplicated mapping key at line 2, column 3'],
    ['empty.yaml', '', 'YAML: expected a document, but the input is empty'],
    ['two.yaml', `partition: aws\n---\npartition: ${SECRET}\n`, 'YAML: expected a single document in the stream, but found more'],
  ])('%s: says where, never what the file holds there', (name, text, why) => {
    const e = failureOf(name, text);

    expect(e.message).toBe(`${join(dir, name)} is not valid ${why}`);
    expect(e.message).not.toContain(SECRET);
  });

  it('refuses, at once and by where it is, a few lines of YAML aliases that stand for a billion values', () => {
    const levels = [`l0: &l0 [${Array(10).fill('x').join(', ')}]`];
    for (let i = 1; i < 9; i++) levels.push(`l${i}: &l${i} [${Array(10).fill(`*l${i - 1}`).join(', ')}]`);
    const text = readFileSync(EXAMPLE_CONFIG, 'utf8').replace(
      '          Resource: arn:aws:s3:::*-secrets/*\n',
      `          Resource: arn:aws:s3:::*-secrets/*\n          Condition:\n            StringEquals:\n${levels.map((l) => `              ${l}\n`).join('')}`,
    );
    expect(text).toContain('*l7');

    const e = failureOf('laughs.yaml', text);

    expect(e.details).toHaveLength(1);
    expect(e.details![0]!.field).toMatch(/^profiles\.1\.inlinePolicy\.Statement\.0\.Condition\.StringEquals\.l\d/);
    expect(e.details![0]!.reason).toBe('expands to more than 100000 values (YAML aliases repeating a part of the document): write it out plainly');
  });
});
