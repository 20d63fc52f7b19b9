import { createPgliteStore } from '../../src/server/store/pglite.ts';
import { describeLogStoreConformance } from './conformance.ts';

describeLogStoreConformance('PGlite (in memory)', async () => ({ store: await createPgliteStore() }));
