-- 0003: every function pins its search_path and qualifies what it calls; a
-- cutoff taken "now" takes the time the function runs; a denial stores the
-- token's own exp, and pruning keeps it for the largest leeway any daemon
-- declared.
--
-- search_path: functions run with the caller's rights and, before this, with
-- the caller's search_path. A role with CREATE on schema public could define
-- public.nextval(text), which PostgreSQL prefers over
-- pg_catalog.nextval(regclass) for an untyped literal, and have it run inside
-- every revocation with the revoker's rights. Each function now sets
-- search_path = pg_catalog, pg_temp (pg_temp last, so a temporary object never
-- shadows anything) and names pg_catalog for every call that matters.
--
-- Clocks: now() is the start of the caller's transaction, so a cutoff written
-- late in a long transaction missed the tokens issued during it.
-- clock_timestamp() is the time the function runs.
--
-- Denials: revoke_token(token_id, expires_at) takes the token's exp, with no
-- leeway added. Each daemon refuses the id until exp plus its own --leeway;
-- each declares that leeway in prune_policy.keep_denials when its feed
-- connects, and pruning keeps a denial until exp plus the largest declared.
--
-- CREATE OR REPLACE keeps each function's owner, its grants and the
-- triggers that use it.

SET LOCAL search_path = pg_catalog, pg_temp;

-- The largest --leeway of any daemon that has followed this database. It only
-- grows; lower it by hand once no daemon needs the longer one.
ALTER TABLE revokd.prune_policy ADD COLUMN keep_denials interval NOT NULL DEFAULT '0 seconds';

-- The column defaults were bound when 0001 ran, by the search_path of that
-- session; bind them to the catalog's nextval explicitly. (The trigger below
-- overwrites the column anyway.)
ALTER TABLE revokd.cutoffs ALTER COLUMN version SET DEFAULT pg_catalog.nextval('revokd.version_seq'::pg_catalog.regclass);
ALTER TABLE revokd.denials ALTER COLUMN version SET DEFAULT pg_catalog.nextval('revokd.version_seq'::pg_catalog.regclass);

CREATE OR REPLACE FUNCTION revokd.stamp_version() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.version := pg_catalog.nextval('revokd.version_seq'::pg_catalog.regclass);
    RETURN NEW;
END
$$;

-- The payload is a hint: a daemon takes kind, claim and key from it and reads
-- the row. time and version stay for daemons older than this migration.
-- (EXTRACT is grammar: the parser names pg_catalog's function itself, and
-- it is exact to the microsecond, where date_part's double is not.)
CREATE OR REPLACE FUNCTION revokd.notify_cutoff() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('revokd', pg_catalog.json_build_object(
        'kind'::text, 'cutoff'::text,
        'claim'::text, NEW.claim,
        'key'::text, NEW.value,
        'time'::text, (EXTRACT(epoch FROM NEW.before) * 1000000)::bigint,
        'version'::text, NEW.version)::text);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION revokd.notify_denial() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('revokd', pg_catalog.json_build_object(
        'kind'::text, 'denial'::text,
        'key'::text, NEW.token_id,
        'time'::text, (EXTRACT(epoch FROM NEW.expires_at) * 1000000)::bigint,
        'version'::text, NEW.version)::text);
    RETURN NULL;
END
$$;

-- revoke_token denies one token id; expires_at is the token's own exp. It
-- returns true when it stored a new denial, false when the id is already
-- denied, or when exp plus the largest leeway any daemon declared has passed
-- (no daemon would accept the token any more). A held denial whose exp plus
-- that leeway has passed counts as none. A denial is never shortened: a later
-- exp for an id already denied extends it, and still returns false.
CREATE OR REPLACE FUNCTION revokd.revoke_token(token_id text, expires_at timestamptz) RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t_now timestamptz := pg_catalog.clock_timestamp();
    keep  interval;
    held  timestamptz;
BEGIN
    SELECT p.keep_denials INTO keep FROM revokd.prune_policy p;
    keep := coalesce(keep, '0 seconds'::interval);
    IF revoke_token.expires_at IS NULL OR revoke_token.expires_at + keep <= t_now THEN
        RETURN false;
    END IF;
    LOOP
        INSERT INTO revokd.denials (token_id, expires_at)
        VALUES (revoke_token.token_id, revoke_token.expires_at)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            RETURN true;
        END IF;
        SELECT d.expires_at INTO held FROM revokd.denials d
        WHERE d.token_id = revoke_token.token_id FOR UPDATE;
        IF FOUND THEN
            IF held + keep <= t_now THEN
                -- Over for every daemon but not yet pruned: a new denial.
                UPDATE revokd.denials d SET expires_at = revoke_token.expires_at
                WHERE d.token_id = revoke_token.token_id;
                RETURN true;
            END IF;
            IF revoke_token.expires_at > held THEN
                UPDATE revokd.denials d SET expires_at = revoke_token.expires_at
                WHERE d.token_id = revoke_token.token_id;
            END IF;
            RETURN false;
        END IF;
        -- Pruned between the two statements: try again.
    END LOOP;
END
$$;

-- revoke_all raises the cutoff for (claim, value) to before, never lowering
-- it, and returns the cutoff in effect afterwards. A NULL (or omitted) before
-- means clock_timestamp(): the time of this call, not the start of the
-- caller's transaction. A before outside 1970–9999 is refused by the table's
-- CHECK.
CREATE OR REPLACE FUNCTION revokd.revoke_all(claim text, value text, before timestamptz DEFAULT NULL) RETURNS timestamptz
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    held timestamptz;
BEGIN
    INSERT INTO revokd.cutoffs AS c (claim, value, before)
    VALUES (revoke_all.claim, revoke_all.value, coalesce(revoke_all.before, pg_catalog.clock_timestamp()))
    ON CONFLICT (claim, value) DO UPDATE SET before = EXCLUDED.before
        WHERE c.before < EXCLUDED.before
    RETURNING c.before INTO held;
    IF FOUND THEN
        RETURN held;
    END IF;
    -- The cutoff held is already as late; ON CONFLICT locked its row, so it
    -- is still there.
    SELECT c.before INTO held FROM revokd.cutoffs c
    WHERE c.claim = revoke_all.claim AND c.value = revoke_all.value;
    RETURN held;
END
$$;

-- unban lowers a cutoff that lies in the future (a ban) to the time of this
-- call. Tokens issued before it stay revoked; new ones are accepted.
CREATE OR REPLACE FUNCTION revokd.unban(claim text, value text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    t_now timestamptz := pg_catalog.clock_timestamp();
BEGIN
    UPDATE revokd.cutoffs c SET before = t_now
    WHERE c.claim = unban.claim AND c.value = unban.value AND c.before > t_now;
END
$$;
