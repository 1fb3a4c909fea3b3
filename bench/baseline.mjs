// The benchmark's baseline: bare Fastify (no logger, no plugins, no hooks) doing the least
// work each measured route of the app can do, against the same PostgreSQL and Redis.
//
//   GET  /health/live     the JSON the app's liveness route answers
//   GET  /documents/:id   one Redis GET of `bench:document:<id>`, the string replied as JSON
//   POST /documents       one INSERT ... RETURNING through pg into `bench_documents`
//
// `bench_documents` has the shape of `documents` (columns, defaults, checks, indexes and the
// foreign key to users); it is created at start and dropped at SIGTERM/SIGINT.
// Environment: PORT, DATABASE_URL, REDIS_URL, BENCH_OWNER_ID (the user that owns inserts).
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import pg from 'pg';

const port = Number(process.env.PORT ?? 7879);
const ownerId = Number(process.env.BENCH_OWNER_ID);
const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  max: 10,
});

const LIVE = { status: 'ok', info: {}, error: {}, details: {} };
const COLUMNS = `document_id, owner_id, title, content, content_type, visibility, version,
  created_at, updated_at`;

await pool.query(`CREATE TABLE IF NOT EXISTS bench_documents (LIKE documents INCLUDING ALL)`);
await pool.query(`ALTER TABLE bench_documents DROP CONSTRAINT IF EXISTS bench_documents_owner_fkey,
  ADD CONSTRAINT bench_documents_owner_fkey FOREIGN KEY (owner_id)
  REFERENCES users (user_id) ON DELETE CASCADE`);

const app = Fastify({ logger: false });

app.get('/health/live', () => LIVE);

app.get('/documents/:id', async (request, reply) => {
  const json = await redis.get(`bench:document:${request.params.id}`);
  if (json === null) return reply.code(404).send({ status: 404 });
  return reply.type('application/json; charset=utf-8').send(json);
});

app.post('/documents', async (request, reply) => {
  const { title, content, contentType, visibility } = request.body;
  const {
    rows: [row],
  } = await pool.query(
    `INSERT INTO bench_documents (owner_id, title, content, content_type, visibility)
     VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
    [ownerId, title, content, contentType ?? 'text/plain', visibility ?? 'private'],
  );
  return reply.code(201).header('location', `/documents/${row.document_id}`).send({
    id: row.document_id,
    ownerId: row.owner_id,
    title: row.title,
    content: row.content,
    contentType: row.content_type,
    visibility: row.visibility,
    version: row.version,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  });
});

let closing = false;
async function close() {
  if (closing) return;
  closing = true;
  await app.close();
  await pool.query('DROP TABLE IF EXISTS bench_documents').catch(() => undefined);
  await pool.end();
  redis.disconnect();
  process.exit(0);
}
process.on('SIGTERM', () => void close());
process.on('SIGINT', () => void close());

await app.listen({ port, host: '127.0.0.1' });
process.stdout.write(`baseline listening on ${port}\n`);
