-- 0002: how old a cutoff must be before pruning may delete it, as the
-- longest --max-session-age of every daemon that has followed this
-- database. A daemon prunes by its own maximum session age; without this, a
-- daemon with a shorter one would delete cutoffs that another, with a
-- longer one (or none), still needs, and that daemon's next snapshot would
-- let those tokens through.

CREATE TABLE revokd.prune_policy (
    only_row     boolean  PRIMARY KEY DEFAULT true CHECK (only_row),
    -- NULL: keep every cutoff (a daemon with no maximum session age has
    -- followed this database). It only ever grows; lower it by hand once
    -- no daemon needs the longer age any more.
    keep_cutoffs interval DEFAULT '0 seconds'
);
INSERT INTO revokd.prune_policy DEFAULT VALUES;
