package main

import (
	"context"
	"fmt"

	"github.com/revokd/revokd/cache/postgres"
)

// The PostgreSQL baseline's two statements, against the revokd schema.
// pgLookup answers, for one token, the cutoff on its subject, the cutoff on
// its session and whether its id is denied: one round trip.
const (
	pgLookup = `SELECT
	(SELECT before FROM revokd.cutoffs WHERE claim = 'sub' AND value = $1),
	(SELECT before FROM revokd.cutoffs WHERE claim = 'sid' AND value = $2),
	EXISTS (SELECT 1 FROM revokd.denials WHERE token_id = $3 AND expires_at > now())`
	pgRevoke = `SELECT revokd.revoke_token($1, $2)`
)

// pgSeed fills the database with unrelated rows: cutoffs of other subjects
// (in the past, so they revoke nothing the bench sends) and denials of
// other token ids, written through the SQL API as apps write them.
var pgSeed = []string{
	`SELECT count(revokd.revoke_all('sub', 'other-' || g, now() - interval '1 day')) FROM generate_series(1, $1) g`,
	`SELECT count(revokd.revoke_token('other-jti-' || g, now() + interval '1 hour')) FROM generate_series(1, $1) g`,
}

// setupSchema creates the revokd schema with revokd's own migrations.
func setupSchema(ctx context.Context, url string) error {
	if _, err := postgres.Migrate(ctx, url); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
