import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';

// yauzl ships no types; the little of it used here.
interface Entry {
  fileName: string;
}
interface ZipFile {
  readEntry(): void;
  on(event: 'entry', listener: (entry: Entry) => void): void;
  on(event: 'end', listener: () => void): void;
  on(event: 'error', listener: (e: Error) => void): void;
  openReadStream(entry: Entry, cb: (e: Error | null, stream?: NodeJS.ReadableStream) => void): void;
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yauzl = require('yauzl') as { open(path: string, options: { lazyEntries: boolean }, cb: (e: Error | null, zip?: ZipFile) => void): void };

/** Extracts a zip (a function's package) into `into`, as Lambda lays it out in /var/task; returns the names of its files. */
export function unzip(zipPath: string, into: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(zipPath, { lazyEntries: true }, (e, zip) => {
      if (e || !zip) return reject(e);
      const names: string[] = [];
      zip.on('error', reject);
      zip.on('end', () => resolve(names));
      zip.on('entry', (entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        const target = join(into, normalize(entry.fileName));
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return reject(err);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            mkdirSync(dirname(target), { recursive: true });
            writeFileSync(target, Buffer.concat(chunks));
            names.push(entry.fileName);
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}
