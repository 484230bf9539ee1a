import type { Actor } from '../model';
import { principalFromCallerArn } from '../principal';
import { catalogFor, type CatalogEntry } from '../rules';
import type { Settings } from '../settings';

/** What the caller may request: accounts × profiles, maximum durations and approvers. */
export function getCatalog(settings: Settings, actor: Actor): CatalogEntry[] {
  return catalogFor(settings, principalFromCallerArn(actor.arn));
}
