-- 0001: cutoffs and denials, one version sequence, the SQL API that apps call
-- inside their own transactions, and the trigger that tells every revokd.
--
-- Migrate runs this inside one transaction that has already created the
-- schema revokd and its schema_version table.

-- Every stored change takes its version from this one sequence, so versions
-- of the same key grow with each change, whoever writes it.
CREATE SEQUENCE revokd.version_seq AS bigint;

-- (claim, value) -> before: every token carrying claim = value whose session
-- start is strictly earlier than before is revoked. A future before is a ban.
CREATE TABLE revokd.cutoffs (
    claim   text        NOT NULL CHECK (octet_length(claim) BETWEEN 1 AND 64),
    value   text        NOT NULL CHECK (octet_length(value) BETWEEN 1 AND 512),
    before  timestamptz NOT NULL CHECK (before BETWEEN '1970-01-01 00:00:00+00' AND '9999-01-01 00:00:00+00'),
    version bigint      NOT NULL DEFAULT nextval('revokd.version_seq'),
    PRIMARY KEY (claim, value)
);
CREATE INDEX cutoffs_before ON revokd.cutoffs (before); -- for pruning

-- token_id -> expires_at (the token's exp plus leeway).
CREATE TABLE revokd.denials (
    token_id   text        PRIMARY KEY CHECK (octet_length(token_id) BETWEEN 1 AND 512),
    expires_at timestamptz NOT NULL CHECK (expires_at BETWEEN '1970-01-01 00:00:00+00' AND '9999-01-01 00:00:00+00'),
    version    bigint      NOT NULL DEFAULT nextval('revokd.version_seq')
);
CREATE INDEX denials_expires_at ON revokd.denials (expires_at); -- for pruning

-- Every insert and update gets a fresh version, whatever the writer put in
-- the column: a direct UPDATE that forgets it, or one that forges a huge one,
-- must not stop replicas from taking later changes to the same key. A BEFORE
-- UPDATE trigger runs after the row is locked, so the later of two writers
-- to one key always carries the higher version.
CREATE FUNCTION revokd.stamp_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := nextval('revokd.version_seq');
    RETURN NEW;
END
$$;

-- The payload is small by construction: claim <= 64 and key <= 512 octets,
-- even fully \u-escaped under 4000 bytes, well below NOTIFY's 8000.
-- time is microseconds since the Unix epoch.
CREATE FUNCTION revokd.notify_cutoff() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('revokd', json_build_object(
        'kind', 'cutoff',
        'claim', NEW.claim,
        'key', NEW.value,
        'time', (extract(epoch FROM NEW.before) * 1000000)::bigint,
        'version', NEW.version)::text);
    RETURN NULL;
END
$$;

CREATE FUNCTION revokd.notify_denial() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('revokd', json_build_object(
        'kind', 'denial',
        'key', NEW.token_id,
        'time', (extract(epoch FROM NEW.expires_at) * 1000000)::bigint,
        'version', NEW.version)::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER stamp_version BEFORE INSERT OR UPDATE ON revokd.cutoffs
    FOR EACH ROW EXECUTE FUNCTION revokd.stamp_version();
CREATE TRIGGER stamp_version BEFORE INSERT OR UPDATE ON revokd.denials
    FOR EACH ROW EXECUTE FUNCTION revokd.stamp_version();
CREATE TRIGGER notify AFTER INSERT OR UPDATE ON revokd.cutoffs
    FOR EACH ROW EXECUTE FUNCTION revokd.notify_cutoff();
CREATE TRIGGER notify AFTER INSERT OR UPDATE ON revokd.denials
    FOR EACH ROW EXECUTE FUNCTION revokd.notify_denial();

-- revoke_token denies one token until expires_at. It returns true when it
-- stored a new denial, false when the token is already denied (and not yet
-- expired) or expires_at has passed. A denial is never shortened: a later
-- expires_at for an id already denied extends it, and still returns false.
CREATE FUNCTION revokd.revoke_token(token_id text, expires_at timestamptz) RETURNS boolean
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    held timestamptz;
BEGIN
    IF revoke_token.expires_at IS NULL OR revoke_token.expires_at <= now() THEN
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
            IF held <= now() THEN
                -- Expired but not yet pruned: this is a new denial.
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
-- it, and returns the cutoff in effect afterwards. A NULL before means now().
CREATE FUNCTION revokd.revoke_all(claim text, value text, before timestamptz DEFAULT now()) RETURNS timestamptz
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    held timestamptz;
BEGIN
    INSERT INTO revokd.cutoffs AS c (claim, value, before)
    VALUES (revoke_all.claim, revoke_all.value, coalesce(revoke_all.before, now()))
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

-- unban lowers a cutoff that lies in the future (a ban) to now(). Tokens
-- issued before now stay revoked; new ones are accepted.
CREATE FUNCTION revokd.unban(claim text, value text) RETURNS void
LANGUAGE sql AS $$
    UPDATE revokd.cutoffs c SET before = now()
    WHERE c.claim = $1 AND c.value = $2 AND c.before > now();
$$;
