import { config } from 'zod/mini';
import { en } from 'zod/v4/locales';

/*
 * zod/mini (a fraction of classic zod's size and load time, which matters at
 * every Lambda cold start) ships without messages; the English locale gives
 * the same messages as classic zod. Every schema module imports this first.
 *
 * `en` is imported by name from the locales entry point: the bundler then
 * keeps only English (zod/mini's `locales.en` keeps all ~60 locales), and it
 * resolves to the same ES-module core as zod/mini (a deep import of
 * 'zod/v4/locales/en.cjs' added a second, CommonJS copy of zod's core).
 */
config(en());
