/**
 * The detail tabs, in the order the strip shows them. To add one, write a
 * view in this folder that exports a TabDefinition and list it here.
 */
import type { TabDefinition } from '../tabs.ts';
import { eventTab } from './event-tab.ts';
import { metricsTab } from './metrics-tab.ts';
import { reactionsTab } from './reactions-tab.ts';
import { syncTab } from './sync-tab.ts';
import { whatIfTab } from './whatif-tab.ts';

export const TABS: readonly TabDefinition[] = [eventTab, whatIfTab, syncTab, metricsTab, reactionsTab];
