import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.cjs';

/*
 * zod/mini (a fraction of classic zod's size and load time, which matters at
 * every Lambda cold start) ships without messages; the English locale gives
 * the same messages as classic zod. Every schema module imports this first.
 */
config(en());
