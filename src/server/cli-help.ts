import { DEFAULT_SERVER_TIMEOUTS } from './http/context.ts';
import { DEFAULT_POSTGRES_TIMEOUTS } from './store/postgres.ts';

/** chronicle-server --help: every command and flag, with its default (cli.ts reads the command line). */
export const HELP = `chronicle-server: the Chronicle sync server (protocol: docs/protocol.md)

Usage:
  chronicle-server [--port 8787] [--host 127.0.0.1] [--data ./chronicle-data] [--tokens tokens.json]
  chronicle-server --database-url postgres://user:pass@host:5432/db [--port ...] [--tokens ...]
  chronicle-server --shard-map shards.json [--port ...] [--tokens ...]         logs over several databases
  chronicle-server move-log --log <log> --to <shard> --shard-map shards.json [--update-map]
  chronicle-server purge-moved --log <log> --from <shard> --shard-map shards.json
  chronicle-server shard-of --shard-map shards.json <log>...
  chronicle-server migrate (--database-url <url>... | --shard-map shards.json | --data <dir>)

Storage (one of):
  --data <dir>            embedded PGlite database in <dir> (default ./chronicle-data); created if missing.
                          One server process per data directory.
  --memory                embedded PGlite in memory: everything is lost when the server stops.
  --database-url <url>    PostgreSQL (also $DATABASE_URL). Several server processes may share one database;
                          live updates cross processes through LISTEN/NOTIFY.
                          Given more than once (name=url, or a bare URL named after its database): logs are
                          spread over the databases by their names (docs/scale-out.md).
  --shard-map <file>      the databases as a file: { "shards": { "a": "postgres://…", … },
                          "placement": ["a", …] (optional), "overrides": { "<log>": "a", … } (optional) }.
                          SIGHUP re-reads its placement and overrides.

Moving a log between databases (docs/scale-out.md; every server must run this version):
  move-log --log <log> --to <shard>   freeze, copy, verify and switch; pushes meanwhile get 503 and are retried.
      [--update-map]                  then add the override to the --shard-map file (send the servers SIGHUP)
      [--batch-events <n>]            events per copy statement (default 5000)
  purge-moved --log <log> --from <shard>   after every server routes the log to its new database: delete its
                                      rows from the old one (the tombstone stays)
  shard-of <log>...                   which shard each log maps to (placement and overrides; no database access)

Setting up and migrating (a release step, as the role that owns Chronicle's tables):
  migrate                 create the tables or bring them to this version's schema, then exit (0 when done).
                          Servers may then run as a role with SELECT, INSERT, UPDATE and DELETE on them only.

migrate, move-log and purge-moved take the --pg-*-timeout options below too (a migration's or a copy's
statements may need a longer --pg-statement-timeout on a slow disk).

Options:
  --port <n>              port to listen on (default 8787, or $PORT); 0 picks a free one
  --host <addr>           address to bind (default 127.0.0.1; 0.0.0.0 for every interface)
  --tokens <file>         bearer tokens: { "<token>": { "read": ["log", "prefix-*"] | "*", "write": [...] } }.
                          Without it there is NO authentication: everyone may read and write every log.
  --check-events <file>   a JavaScript module exporting the app's "events" and/or "aggregates" definitions:
                          every pushed event is checked against them (422 INVALID_EVENT when its data fails)
  --rate <n>              requests per second per client (token bucket; burst 2n; default 100). 0 disables.
  --max-events <n>        events per push (default 1000)
  --max-event-bytes <n>   bytes per event (default 262144)
  --max-request-bytes <n> bytes per request body (default 4194304)
  --max-header-bytes <n>  bytes of request line + headers (default 32768, at least 1024); more gets 431

Timeouts (milliseconds; every wait is bounded, a store that does not answer in time gives 503):
  --store-timeout <ms>    a push, pull or fence the store has not answered (default ${DEFAULT_SERVER_TIMEOUTS.storeMs})
  --ready-timeout <ms>    GET /ready's ping of the store (default ${DEFAULT_SERVER_TIMEOUTS.readyMs})
  --body-timeout <ms>     a request body that has not arrived (408; default ${DEFAULT_SERVER_TIMEOUTS.bodyMs})
  --shutdown-timeout <ms> SIGTERM waits this long for requests in flight (default ${DEFAULT_SERVER_TIMEOUTS.shutdownMs})
  --headers-timeout <ms>  a request line and headers that have not arrived (408; default ${DEFAULT_SERVER_TIMEOUTS.headersMs})
  --reply-timeout <ms>    a reply (or a live socket's messages) the client stopped reading: no progress for this
                          long closes its connection (default ${DEFAULT_SERVER_TIMEOUTS.replyMs})
  --pg-connect-timeout <ms>   opening a PostgreSQL connection or waiting for a pooled one (default ${DEFAULT_POSTGRES_TIMEOUTS.connectTimeoutMs})
  --pg-statement-timeout <ms> statement_timeout (default ${DEFAULT_POSTGRES_TIMEOUTS.statementTimeoutMs})
  --pg-lock-timeout <ms>      lock_timeout (default ${DEFAULT_POSTGRES_TIMEOUTS.lockTimeoutMs})
  --pg-query-timeout <ms>     the client's wait for a reply (default statement timeout + 2000)
  --pg-idle-tx-timeout <ms>   idle_in_transaction_session_timeout: frees a lost server's locks (default statement timeout)
  --pool-size <n>         PostgreSQL connections (default 10)
  --pg-writes-in-flight <n>   writes to one log sent before the last is answered (default 1: pushes
                          that arrive meanwhile go together in the next; more for a database with cores to spare)
  --shared-buffers-mb <n> PGlite's shared_buffers (default 16, at most 1024; PGlite's own default is 128)

Logs and metrics:
  --log-format <f>        json (one object per line, with requestId) or text (default json)
  --access-log            log every request, not only refused and failed ones
  --no-metrics            no GET /metrics (it needs the prom-client package)
  -h, --help              this help

Endpoints: POST /v1/logs/:log/push, GET /v1/logs/:log/pull, POST /v1/logs/:log/fence, WebSocket /v1/logs/:log/live,
GET /health, GET /ready, GET /metrics.
SIGTERM / SIGINT: finish requests already received (later ones get 503), close sockets and the store, exit.
Before the server listens: stop starting (a new data directory's initdb child stopped, the store closed, the
data directory's lock released) and exit 143 (SIGINT: 130).
`;
