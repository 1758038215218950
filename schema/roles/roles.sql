-- earshot's ClickHouse roles, for a real server (`earshot migrate --roles`). The development
-- engine (chDB behind deploy/local/chdb_http.py) has no access control: there the statements
-- are only checked to parse, and every connection can do everything.
--
--   earshot_writer:  the aggregator — reads its checkpoints, inserts rows. Schema changes are
--                    not its business: `earshot migrate` runs as an administrator.
--   earshot_analyst: analysts, the web page, dashboards — read-only, and not the checkpoints
--                    (partition state: pseudonymous listener keys in bulk, of no use to a reader).
-- Users are the operator's: CREATE USER ... IDENTIFIED BY '<from your secret store>' DEFAULT ROLE
-- earshot_analyst. {db} is the configured database.

CREATE ROLE IF NOT EXISTS earshot_writer;
GRANT SELECT, INSERT ON {db}.* TO earshot_writer;

CREATE ROLE IF NOT EXISTS earshot_analyst;
GRANT SELECT ON {db}.* TO earshot_analyst;
REVOKE SELECT ON {db}.checkpoints FROM earshot_analyst;
REVOKE SELECT ON {db}.checkpoint_chunks FROM earshot_analyst;
