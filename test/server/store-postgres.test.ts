import { createPostgresStore } from '../../src/server/store/postgres.ts';
import { describeLogStoreConformance } from './conformance.ts';
import { createTestDatabase } from './helpers.ts';

describeLogStoreConformance('PostgreSQL (own database per run)', async () => {
  const db = await createTestDatabase();
  try {
    return { store: await createPostgresStore({ connectionString: db.url, poolSize: 12 }), teardown: () => db.drop() };
  } catch (error) {
    await db.drop();
    throw error;
  }
});
