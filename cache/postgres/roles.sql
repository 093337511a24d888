-- The rights of the two roles Migrate keeps, applied on every run after the
-- migrations, so a run brings them to exactly what this build needs: first
-- what they hold on the schema is taken back, then granted afresh (one
-- transaction, so no one sees them without). Rights an operator wants on top
-- belong to the login roles, not to these.
--
-- revokd_daemon: read the tables, write through the functions, prune
-- (DELETE), declare its maximum session age and leeway (prune_policy) and
-- read the schema version. LISTEN needs no grant.
-- revokd_writer: call revoke_token, revoke_all and unban, and nothing else;
-- the functions run with their owner's rights (0004).

REVOKE ALL ON ALL TABLES IN SCHEMA revokd FROM revokd_daemon, revokd_writer;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA revokd FROM revokd_daemon, revokd_writer;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA revokd FROM revokd_daemon, revokd_writer;
REVOKE ALL ON SCHEMA revokd FROM revokd_daemon, revokd_writer;

GRANT USAGE ON SCHEMA revokd TO revokd_daemon, revokd_writer;
GRANT EXECUTE ON FUNCTION revokd.revoke_token(text, timestamptz),
    revokd.revoke_all(text, text, timestamptz),
    revokd.unban(text, text) TO revokd_daemon, revokd_writer;

GRANT SELECT, DELETE ON revokd.cutoffs, revokd.denials TO revokd_daemon;
GRANT SELECT, UPDATE ON revokd.prune_policy TO revokd_daemon;
GRANT SELECT ON revokd.schema_version TO revokd_daemon;
