import { createPostgresStore } from '../../src/server/store/postgres.ts';
import { describeLogStoreConformance } from './conformance.ts';
import { createTestDatabase } from './helpers.ts';

describeLogStoreConformance(
  'PostgreSQL (own database per run)',
  async () => {
    const db = await createTestDatabase();
    try {
      const store = await createPostgresStore({ connectionString: db.url, poolSize: 8 });
      const peer = await createPostgresStore({ connectionString: db.url, poolSize: 8 });
      return { store, peer, teardown: () => db.drop() };
    } catch (error) {
      await db.drop();
      throw error;
    }
  },
  { postgres: true },
);

// The same, with fast-path writes chained three deep (maxWritesInFlight), as a database server with cores to spare may run.
describeLogStoreConformance(
  'PostgreSQL, three writes in flight per log',
  async () => {
    const db = await createTestDatabase();
    try {
      const store = await createPostgresStore({ connectionString: db.url, poolSize: 8, maxWritesInFlight: 3 });
      const peer = await createPostgresStore({ connectionString: db.url, poolSize: 8, maxWritesInFlight: 3 });
      return { store, peer, teardown: () => db.drop() };
    } catch (error) {
      await db.drop();
      throw error;
    }
  },
  { postgres: true },
);
