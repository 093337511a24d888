-- 0004: the three functions run with their owner's rights, so the roles
-- Migrate keeps (revokd_writer, revokd_daemon; see roles.sql) can revoke
-- with EXECUTE alone, without any right on the tables: a writer can then
-- raise cutoffs and add denials, and nothing else (it cannot read, lower or
-- delete one).
--
-- SECURITY DEFINER is safe here because 0003 pinned every function's
-- search_path to pg_catalog, pg_temp and qualified every call: nothing a
-- caller puts on a search_path runs with the owner's rights. Keep it so.
--
-- EXECUTE, granted to PUBLIC by default, now goes only to whom it is
-- granted: a function that runs with the owner's rights must not be open to
-- every role that can connect. Roles given EXECUTE explicitly before (as
-- the grants documented until now did) keep it.

ALTER FUNCTION revokd.revoke_token(text, timestamptz) SECURITY DEFINER;
ALTER FUNCTION revokd.revoke_all(text, text, timestamptz) SECURITY DEFINER;
ALTER FUNCTION revokd.unban(text, text) SECURITY DEFINER;

REVOKE EXECUTE ON FUNCTION revokd.revoke_token(text, timestamptz),
    revokd.revoke_all(text, text, timestamptz),
    revokd.unban(text, text) FROM PUBLIC;
