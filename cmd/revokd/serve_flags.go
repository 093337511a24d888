package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/revokd/revokd/daemon"
	"github.com/revokd/revokd/daemon/pipeline"
)

// serveOptions are serve's flags.
type serveOptions struct {
	socket     string
	socketMode modeFlag
	dataDir    string

	hmacSecretFile string
	publicKeys     listFlag
	jwksFile       string
	algorithms     listFlag

	jwksURL        string
	oidcIssuer     string
	jwksRefresh    time.Duration
	jwksMinRefresh time.Duration
	jwksTimeout    time.Duration

	issuersFile string

	issuer, audience  string
	subjectClaim      string
	sessionStartClaim string
	cutoffClaims      replaceableList

	maxSessionAge time.Duration
	leeway        time.Duration
	maxTokenBytes int
	requireJTI    bool
	requireClaims claimsFlag
	tokenCacheMB  int

	signingKey      string
	signingAlg      string
	signingKID      string
	tokenTTL        time.Duration
	signingIssuer   string
	signingAudience string
	refreshRotation bool
	publicKeysOnly  bool

	backchannelClientIDs listFlag
	backchannelMaxAge    time.Duration

	logLevel  oneOfFlag
	logFormat oneOfFlag

	databaseURL   string
	migrate       bool
	heartbeat     time.Duration
	pruneInterval time.Duration
	staleAfter    time.Duration

	writeUIDs idsFlag
	writeGIDs idsFlag

	maxConns       int
	maxConnsPerUID int

	dev bool
}

const serveAbout = `
Runs the daemon: answers validation, revocation and status requests on a
Unix socket, in two framings on the same socket (HTTP/1.1, and NDJSON for
connections whose first byte is '{').

Revocations are kept in PostgreSQL with --database-url, shared by every
revokd that uses it; otherwise in an embedded store (bbolt) under
--data-dir, for one host.

At least one verification key is needed (--hmac-secret-file, --public-key,
--jwks-file, --signing-key), or keys fetched from an identity provider (--jwks-url or
--oidc-issuer, instead of those), or a file of several trusted issuers
(--issuers-file), unless --dev is given: --dev needs no configuration at all.
It makes an HS256 key in a development directory and prints a sample token
and the curl commands to try it.

With --signing-key the daemon also issues and refreshes tokens (POST
/v1/issue, /v1/refresh), verifies them with the key's public half like any
other, and publishes its public keys at GET /v1/jwks.

Default --data-dir: $STATE_DIRECTORY (systemd's StateDirectory=), else
/var/lib/revokd for root, else $XDG_STATE_HOME/revokd, else
~/.local/state/revokd. With --dev: $XDG_STATE_HOME/revokd-dev, else
~/.local/state/revokd-dev (revokd-dev-<uid> in the temp directory when there
is no home); its key and store are kept there across runs. --dev uses the
default --socket when it can create it, else revokd.sock in that directory.
`

func newServeFlags(o *serveOptions) *cmdFlags {
	f := newFlags("serve", "[flags]", serveAbout)
	o.socketMode = 0o660
	o.cutoffClaims.list = listFlag(pipeline.DefaultCutoffClaims)
	o.logLevel = oneOfFlag{value: "info", allowed: []string{"debug", "info", "warn", "error"}}
	o.logFormat = oneOfFlag{value: "text", allowed: []string{"text", "json"}}

	f.StringVar(&o.socket, "socket", "", "Unix socket `path` (default $XDG_RUNTIME_DIR/revokd/revokd.sock, else /run/revokd/revokd.sock)")
	f.Var(&o.socketMode, "socket-mode", "socket permissions, in `octal`; whoever can open the socket can validate")
	f.StringVar(&o.dataDir, "data-dir", "", "`directory` of the embedded store, revokd.db (see above for the default)")

	f.StringVar(&o.hmacSecretFile, "hmac-secret-file", "", "`file` whose bytes are the HMAC secret (HS256/384/512)")
	f.Var(&o.publicKeys, "public-key", "PEM public key or certificate `file` (RSA, EC P-256/384/521, Ed25519); repeatable or comma-separated")
	f.StringVar(&o.jwksFile, "jwks-file", "", "JSON Web Key Set `file`; keys are chosen by kid")
	f.StringVar(&o.jwksURL, "jwks-url", "", "fetch the JSON Web Key Set from this `url` (https://, or http:// to a loopback address)")
	f.StringVar(&o.oidcIssuer, "oidc-issuer", "", "OpenID Connect issuer `url`: fetch the keys its discovery document names; also sets --issuer")
	f.DurationVar(&o.jwksRefresh, "jwks-refresh", pipeline.DefaultJWKSRefresh, "with --jwks-url or --oidc-issuer: refetch the keys this often (`duration`)")
	f.DurationVar(&o.jwksMinRefresh, "jwks-min-refresh", pipeline.DefaultJWKSMinRefresh, "with --jwks-url or --oidc-issuer: a token with an unknown kid refetches the keys at most this often (`duration`)")
	f.DurationVar(&o.jwksTimeout, "jwks-timeout", pipeline.DefaultJWKSTimeout, "with --jwks-url or --oidc-issuer: one fetch's limit, and the longest a validation waits for one (`duration`)")
	f.StringVar(&o.issuersFile, "issuers-file", "", "JSON `file` of trusted issuers, each with its keys, audiences, algorithms and subject claim, instead of the key and issuer flags (see docs/keys.md); SIGHUP reads it again")
	f.Var(&o.algorithms, "algorithms", "comma-separated `list` of allowed algorithms, such as RS256,ES256 (default: all the keys support; never none)")

	f.StringVar(&o.issuer, "issuer", "", "required iss `value` (default: not checked)")
	f.StringVar(&o.audience, "audience", "", "required aud `value` (default: not checked)")
	f.StringVar(&o.subjectClaim, "subject-claim", pipeline.DefaultSubjectClaim, "the `claim` holding the subject (the original Django app used id)")
	f.StringVar(&o.sessionStartClaim, "session-start-claim", pipeline.DefaultSessionStartClaim, "the `claim` holding the session start; tokens without it fall back to iat")
	f.Var(&o.cutoffClaims, "cutoff-claims", "comma-separated `claims` that revoke-all can target; sub means the subject claim")

	f.DurationVar(&o.maxSessionAge, "max-session-age", 0, "reject tokens whose session started longer ago than this `duration`, such as 168h (default 0: off)")
	f.DurationVar(&o.leeway, "leeway", 30*time.Second, "clock skew `duration` allowed for exp and nbf")
	f.IntVar(&o.maxTokenBytes, "max-token-bytes", pipeline.DefaultMaxTokenBytes, "reject longer tokens as malformed (`bytes`)")
	f.BoolVar(&o.requireJTI, "require-jti", false, "reject tokens without a jti; otherwise such a token's id is sha256:+base64url(SHA-256(token))")
	f.Var(&o.requireClaims, "require-claim", "refuse tokens (bad_claim) unless claim `name=value`, such as token_type=access; repeatable or comma-separated; a validate request's expect replaces them")
	f.IntVar(&o.tokenCacheMB, "token-cache-mb", 64, "memory for the verified-token cache, in `MiB`; 0 turns it off")

	f.StringVar(&o.signingKey, "signing-key", "", "issue and refresh tokens, signed with the PEM private key (RSA, EC P-256/384/521, Ed25519) or, with an HS --signing-alg, the HMAC secret in this `file`; SIGHUP reads it again")
	f.StringVar(&o.signingAlg, "signing-alg", "", "with --signing-key: the `algorithm`, such as PS256 or HS256 (default: RS256 for RSA, the curve's for EC, EdDSA; an HMAC secret needs one)")
	f.StringVar(&o.signingKID, "signing-kid", "", "with --signing-key: the `kid` of issued tokens (default: the key's RFC 7638 thumbprint; none for an HMAC secret)")
	f.DurationVar(&o.tokenTTL, "token-ttl", daemon.DefaultTokenTTL, "with --signing-key: the lifetime of issued and refreshed tokens (`duration`)")
	f.StringVar(&o.signingIssuer, "signing-issuer", "", "with --signing-key: the iss `value` of issued tokens (default --issuer)")
	f.StringVar(&o.signingAudience, "signing-audience", "", "with --signing-key: the aud `value` of issued tokens (default --audience)")
	f.BoolVar(&o.refreshRotation, "refresh-rotation", true, "with --signing-key: deny a refreshed token once its successor is issued, and end the session of a token refreshed twice (reuse)")
	f.BoolVar(&o.publicKeysOnly, "public-keys-only", false, "with --signing-key: verify with its public half and publish it, but never issue or refresh")

	f.Var(&o.backchannelClientIDs, "backchannel-client-id", "enable POST /v1/backchannel-logout (OpenID Connect Back-Channel Logout) for logout tokens whose aud names this client `id`; repeatable or comma-separated; needs --issuer, --oidc-issuer or --issuers-file")
	f.DurationVar(&o.backchannelMaxAge, "backchannel-max-age", daemon.DefaultBackchannelMaxAge, "with --backchannel-client-id: refuse logout tokens whose iat is older than this `duration`")

	f.Var(&o.logLevel, "log-level", "log `level`: debug, info, warn or error")
	f.Var(&o.logFormat, "log-format", "log `format`: text or json")

	f.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL connection `url`: keep revocations there, shared by every revokd, instead of in --data-dir")
	f.BoolVar(&o.migrate, "migrate", false, "with --database-url: create or update the schema at start (as 'revokd migrate')")
	f.DurationVar(&o.heartbeat, "heartbeat", 5*time.Second, "with --database-url: find a silently dead connection within this `duration`")
	f.DurationVar(&o.pruneInterval, "prune-interval", 10*time.Minute, "delete expired revocations from the store this often (`duration`)")
	f.DurationVar(&o.staleAfter, "stale-after", 0, "answer unavailable (fail closed) once the source has been silent this long (`duration`; default 0: keep answering from memory)")

	f.Var(&o.writeUIDs, "write-uids", "comma-separated user `ids` allowed to issue, revoke-all, unban and revoke by bare jti over the socket (default: anyone who can open it, unless --write-gids is given; with --signing-key, the daemon's own uid and root)")
	f.Var(&o.writeGIDs, "write-gids", "comma-separated group `ids` allowed to issue, revoke-all, unban and revoke by bare jti over the socket (default: anyone who can open it, unless --write-uids is given; with --signing-key, none)")

	f.IntVar(&o.maxConns, "max-connections", daemon.DefaultMaxConns, "refuse connections beyond this `number` open at once")
	f.IntVar(&o.maxConnsPerUID, "max-connections-per-uid", 0, "no one user may hold more than this `number` of the connections; root and the daemon's own user are exempt, and may go 16 past --max-connections (default: half of --max-connections)")

	f.BoolVar(&o.dev, "dev", false, "development mode: no configuration needed, prints a sample token and curl commands")

	// Every serve flag is a daemon setting: all are read from REVOKD_*.
	f.VisitAll(func(fl *flag.Flag) { f.fromEnv(fl.Name) })
	return f
}

// check returns what is wrong with the options taken together.
func (o *serveOptions) check() error {
	local := o.hmacSecretFile != "" || len(o.publicKeys) > 0 || o.jwksFile != "" || o.signingKey != ""
	remote := o.jwksURL != "" || o.oidcIssuer != ""
	switch {
	case o.issuersFile != "" && (o.hmacSecretFile != "" || len(o.publicKeys) > 0 || o.jwksFile != "" || remote || o.dev || o.issuer != "" || o.audience != "" || len(o.algorithms) > 0):
		return fmt.Errorf("--issuers-file gives every issuer's keys, audiences and algorithms: give no --hmac-secret-file, --public-key, --jwks-file, --jwks-url, --oidc-issuer, --issuer, --audience, --algorithms or --dev with it")
	case o.issuersFile != "" && o.signingKey != "" && o.signingIssuer == "":
		return fmt.Errorf("--signing-key with --issuers-file needs --signing-issuer: the issuer of the daemon's tokens, whose entry in the file (if any) also trusts the signing key")
	case !local && !remote && !o.dev && o.issuersFile == "":
		return fmt.Errorf("no verification key: give --hmac-secret-file, --public-key, --jwks-file, --signing-key, --jwks-url, --oidc-issuer or --issuers-file (or --dev to try revokd out)")
	case remote && (local || o.dev):
		return fmt.Errorf("--jwks-url and --oidc-issuer fetch every key: give no --hmac-secret-file, --public-key, --jwks-file, --signing-key or --dev with them")
	case o.signingKey == "" && (o.signingAlg != "" || o.signingKID != "" || o.signingIssuer != "" || o.signingAudience != "" || o.publicKeysOnly):
		return fmt.Errorf("--signing-alg, --signing-kid, --signing-issuer, --signing-audience and --public-keys-only need --signing-key")
	case o.signingKey != "" && o.dev:
		return fmt.Errorf("--dev makes its own HMAC key: give no --signing-key with it")
	case o.tokenTTL <= 0:
		return fmt.Errorf("--token-ttl must be positive, got %s", o.tokenTTL)
	case o.jwksURL != "" && o.oidcIssuer != "":
		return fmt.Errorf("give --jwks-url or --oidc-issuer, not both (discovery finds the JWKS URL)")
	case o.oidcIssuer != "" && o.issuer != "" && o.issuer != o.oidcIssuer:
		return fmt.Errorf("--issuer %q differs from --oidc-issuer %q, which sets it", o.issuer, o.oidcIssuer)
	case o.jwksURL != "" && pipeline.CheckKeysURL(o.jwksURL) != nil:
		return fmt.Errorf("--jwks-url: %w", pipeline.CheckKeysURL(o.jwksURL))
	case o.oidcIssuer != "" && pipeline.CheckKeysURL(o.oidcIssuer) != nil:
		return fmt.Errorf("--oidc-issuer: %w", pipeline.CheckKeysURL(o.oidcIssuer))
	case o.jwksRefresh <= 0 || o.jwksMinRefresh <= 0 || o.jwksTimeout <= 0:
		return fmt.Errorf("--jwks-refresh, --jwks-min-refresh and --jwks-timeout must be positive")
	case o.maxSessionAge < 0:
		return fmt.Errorf("--max-session-age %s is negative", o.maxSessionAge)
	case o.leeway < 0:
		return fmt.Errorf("--leeway %s is negative", o.leeway)
	case o.maxTokenBytes <= 0:
		return fmt.Errorf("--max-token-bytes must be positive, got %d", o.maxTokenBytes)
	case o.tokenCacheMB < 0:
		return fmt.Errorf("--token-cache-mb must not be negative, got %d", o.tokenCacheMB)
	case o.heartbeat <= 0:
		return fmt.Errorf("--heartbeat must be positive, got %s", o.heartbeat)
	case o.pruneInterval <= 0:
		return fmt.Errorf("--prune-interval must be positive, got %s", o.pruneInterval)
	case o.staleAfter < 0:
		return fmt.Errorf("--stale-after %s is negative", o.staleAfter)
	case o.maxConns <= 0:
		return fmt.Errorf("--max-connections must be positive, got %d", o.maxConns)
	case o.maxConnsPerUID < 0 || o.maxConnsPerUID > o.maxConns:
		return fmt.Errorf("--max-connections-per-uid must be from 0 (half of --max-connections) to --max-connections (%d), got %d", o.maxConns, o.maxConnsPerUID)
	case o.migrate && o.databaseURL == "":
		return fmt.Errorf("--migrate needs --database-url")
	case o.subjectClaim == "" || o.sessionStartClaim == "":
		return fmt.Errorf("--subject-claim and --session-start-claim must not be empty")
	case len(o.cutoffClaims.list) == 0:
		return fmt.Errorf("--cutoff-claims must name at least one claim")
	case len(o.backchannelClientIDs) > 0 && o.issuer == "" && o.oidcIssuer == "" && o.issuersFile == "":
		return fmt.Errorf("--backchannel-client-id needs --issuer, --oidc-issuer or --issuers-file: a logout token's iss must name a trusted issuer")
	case o.backchannelMaxAge <= 0:
		return fmt.Errorf("--backchannel-max-age must be positive, got %s", o.backchannelMaxAge)
	}
	return nil
}

// signing is the token service's settings, or nil without --signing-key.
func (o *serveOptions) signing() *daemon.SigningConfig {
	if o.signingKey == "" {
		return nil
	}
	path := o.signingKey
	return &daemon.SigningConfig{
		Key: func() ([]byte, error) {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("--signing-key: %w", err)
			}
			return b, nil
		},
		Alg:        o.signingAlg,
		KID:        o.signingKID,
		TTL:        o.tokenTTL,
		Issuer:     o.signingIssuer,
		Audience:   o.signingAudience,
		Rotation:   o.refreshRotation,
		PublicOnly: o.publicKeysOnly,
	}
}

// backchannel is the back-channel logout settings, or nil when
// --backchannel-client-id is not given and the route is off.
func (o *serveOptions) backchannel() *daemon.BackchannelConfig {
	if len(o.backchannelClientIDs) == 0 {
		return nil
	}
	return &daemon.BackchannelConfig{ClientIDs: o.backchannelClientIDs, MaxAge: o.backchannelMaxAge}
}
