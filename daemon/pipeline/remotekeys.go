package pipeline

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"

	"github.com/revokd/revokd/cache"
)

// Defaults for the zero values of RemoteKeysConfig.
const (
	DefaultJWKSRefresh    = time.Hour
	DefaultJWKSMinRefresh = 5 * time.Minute
	DefaultJWKSTimeout    = 2 * time.Second
)

// maxJWKSBytes bounds a fetched key set or discovery document: an identity
// provider's answer is a few KiB, and a hostile or broken one must not fill
// the heap.
const maxJWKSBytes = 1 << 20

// RemoteKeysConfig says where one issuer's keys are fetched from and how
// often. Exactly one of JWKSURL and OIDCIssuer is set.
type RemoteKeysConfig struct {
	JWKSURL string // the key set itself
	// OIDCIssuer is read as OIDCIssuer/.well-known/openid-configuration,
	// whose "issuer" must equal it exactly and whose "jwks_uri" is fetched.
	OIDCIssuer string

	Refresh    time.Duration // refetch this often; default DefaultJWKSRefresh
	MinRefresh time.Duration // at most one unknown-kid refetch this often; default DefaultJWKSMinRefresh
	Timeout    time.Duration // one fetch's limit, and a validation's longest wait; default DefaultJWKSTimeout

	Client *http.Client // default: a client with no timeout of its own (Timeout applies)
	Clock  cache.Clock  // default cache.SystemClock
	Logger *slog.Logger // default discards
	// Loaded, if set, is called once, after the first good set.
	Loaded func()
}

// RemoteKeys keeps one issuer's key set fetched from its identity provider:
// refreshed every Refresh, refetched (at most every MinRefresh) when a
// token names a kid the set lacks, and kept when a fetch fails. Run does
// the fetching; the pipeline reads the current set.
//
// keyfunc's own HTTP storage is not used for the fetching: its unknown-kid
// refresh waits on a rate.Limiter for up to a minute per caller, and its
// refresh goroutine runs on the wall clock and cannot be waited for. revokd
// fetches itself, on the injected clock, and parses with keyfunc and jwkset.
type RemoteKeys struct {
	cfg     RemoteKeysConfig
	jwksURL atomic.Pointer[string] // from the config, or from discovery

	set     atomic.Pointer[keySet]   // nil until the first good fetch
	skipped atomic.Pointer[[]string] // the keys the last good fetch left out, and why

	mu          sync.Mutex
	inflight    *fetch    // the fetch under way, if any
	lastKidTry  time.Time // when an unknown kid last started a fetch
	lastErr     error     // the last fetch's failure; nil once one succeeds
	lastErrAt   time.Time
	wake        chan struct{} // asks Run to perform inflight
	fetchesOK   atomic.Uint64
	fetchesFail atomic.Uint64
	loadedOnce  sync.Once
}

// keySet is one good fetch, or one load of the keys given at start or by
// Reload: its keys and when it was taken.
type keySet struct {
	keys    []*verifyKey
	fetched time.Time
}

// fetch is one fetch of the set; done is closed when it ends. A timed one
// reads the discovery document again first, so a provider that moves its
// jwks_uri is followed within one refresh.
type fetch struct {
	done  chan struct{}
	timed bool
}

// ErrIssuerMismatch is a discovery document naming an issuer other than
// the one configured: the provider is misconfigured, or it is not the
// provider meant, and its keys must not be trusted.
var ErrIssuerMismatch = errors.New("discovery document names another issuer")

// NewRemoteKeys checks cfg. It fetches nothing: Run does.
func NewRemoteKeys(cfg RemoteKeysConfig) (*RemoteKeys, error) {
	if (cfg.JWKSURL == "") == (cfg.OIDCIssuer == "") {
		return nil, errors.New("remote keys: give exactly one of a JWKS URL and an OIDC issuer")
	}
	for _, u := range []string{cfg.JWKSURL, cfg.OIDCIssuer} {
		if u == "" {
			continue
		}
		if err := CheckKeysURL(u); err != nil {
			return nil, fmt.Errorf("remote keys: %w", err)
		}
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = DefaultJWKSRefresh
	}
	if cfg.MinRefresh == 0 {
		cfg.MinRefresh = DefaultJWKSMinRefresh
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultJWKSTimeout
	}
	if cfg.Refresh < 0 || cfg.MinRefresh < 0 || cfg.Timeout < 0 {
		return nil, errors.New("remote keys: negative refresh, minimum refresh or timeout")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	if cfg.Clock == nil {
		cfg.Clock = cache.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	k := &RemoteKeys{cfg: cfg, wake: make(chan struct{}, 1)}
	if cfg.JWKSURL != "" {
		k.jwksURL.Store(&cfg.JWKSURL)
	}
	return k, nil
}

// CheckKeysURL refuses a URL keys may not come from: anything but https,
// except plain http to a loopback host (tests, and a provider on the same
// machine), since keys fetched in the clear can be swapped on the way.
func CheckKeysURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parse %q: %w", raw, err)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("%q has no host", raw)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && loopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q: keys are fetched only over https:// (http:// only from a loopback address)", raw)
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Run fetches the set until ctx is done: first discovery (when
// configured), then the set, then again every Refresh, and whenever a
// validation asks (refetch). A failed fetch is retried with a backoff of
// up to MinRefresh. It returns an error only for a discovery document that
// names another issuer, which no retry can mend.
func (k *RemoteKeys) Run(ctx context.Context) error {
	timer, tick := k.cfg.Clock.NewTimer(0)
	defer timer.Stop()
	backoff := time.Second
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick:
			if ok, err := k.scheduled(ctx); err != nil {
				return err
			} else if ok {
				backoff = time.Second
				timer.Reset(k.cfg.Refresh)
			} else {
				timer.Reset(backoff)
				backoff = min(2*backoff, max(k.cfg.MinRefresh, time.Second))
			}
		case <-k.wake:
			k.mu.Lock()
			f := k.inflight
			k.mu.Unlock()
			if f != nil && k.perform(ctx, f) != nil {
				// A fetch a validation asked for failed: retry it as a
				// timed one would be, not at the next refresh, so the
				// error in status and a key the provider dropped do not
				// outlive the outage by up to an hour.
				timer.Reset(backoff)
				backoff = min(2*backoff, max(k.cfg.MinRefresh, time.Second))
			}
		}
	}
}

// scheduled runs the timer's fetch, or the fetch a validation asked for
// if one waits (only Run performs fetches, so it has not started), and
// reports whether the set is good now: a failure is retried with the
// backoff whichever fetch it was.
func (k *RemoteKeys) scheduled(ctx context.Context) (bool, error) {
	k.mu.Lock()
	f := k.inflight
	if f == nil {
		f = &fetch{done: make(chan struct{}), timed: true}
		k.inflight = f
	}
	k.mu.Unlock()
	err := k.perform(ctx, f)
	if errors.Is(err, ErrIssuerMismatch) && k.current() == nil {
		// Never trusted: no keys are better than keys a provider that
		// does not claim the issuer hands out. Once a set is in use, a
		// mismatch is a failed fetch: the set stays, and so does the
		// daemon.
		return false, err
	}
	return err == nil, nil
}

// perform runs fetch f and records its outcome. The set is replaced only by
// a good fetch; a failure is logged when it starts a streak of failures,
// and the end of the streak is logged too, so a provider that is down for
// an hour costs two lines, not one per try.
func (k *RemoteKeys) perform(ctx context.Context, f *fetch) error {
	ctx, cancel := context.WithCancel(ctx)
	timer, expired := k.cfg.Clock.NewTimer(k.cfg.Timeout)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // the timeout runs on the injected clock, as every wait does
		select {
		case <-expired:
			cancel()
		case <-stop:
		}
	})
	keys, err := k.fetchSet(ctx, f.timed)
	close(stop)
	wg.Wait()
	timer.Stop()
	cancel()

	now := k.cfg.Clock.Now()
	k.mu.Lock()
	wasFailing := k.lastErr != nil
	if err != nil {
		k.lastErr, k.lastErrAt = err, now
	} else {
		k.lastErr = nil
		k.set.Store(&keySet{keys: keys, fetched: now})
	}
	k.inflight = nil
	k.mu.Unlock()
	close(f.done)

	url := k.url()
	switch {
	case err != nil:
		k.fetchesFail.Add(1)
		if !wasFailing {
			k.cfg.Logger.Warn("fetch JWKS failed; keeping the last good key set until a fetch succeeds", "url", url, "err", err, "have_keys", k.set.Load() != nil)
		}
	default:
		k.fetchesOK.Add(1)
		if wasFailing {
			k.cfg.Logger.Info("fetch JWKS succeeded again", "url", url, "keys", len(keys))
		}
		k.loadedOnce.Do(func() {
			k.cfg.Logger.Info("JWKS loaded", "url", url, "keys", len(keys), "skipped", k.skippedKeys())
			if k.cfg.Loaded != nil {
				k.cfg.Loaded()
			}
		})
	}
	return err
}

func (k *RemoteKeys) url() string {
	if u := k.jwksURL.Load(); u != nil {
		return *u
	}
	return k.cfg.OIDCIssuer
}

// fetchSet discovers the JWKS URL if it is not known yet, or again when
// rediscover is set, then fetches and parses the set. A document that
// cannot be fetched when the URL is known already leaves it as it is; one
// that names another issuer fails the fetch.
func (k *RemoteKeys) fetchSet(ctx context.Context, rediscover bool) ([]*verifyKey, error) {
	if k.cfg.OIDCIssuer != "" && (k.jwksURL.Load() == nil || rediscover) {
		u, err := k.discover(ctx)
		switch {
		case err == nil:
			if old := k.jwksURL.Swap(&u); old != nil && *old != u {
				k.cfg.Logger.Info("OIDC discovery names a new jwks_uri", "old", *old, "new", u)
			}
		case k.jwksURL.Load() == nil, errors.Is(err, ErrIssuerMismatch):
			return nil, err
		default:
			k.cfg.Logger.Warn("OIDC discovery failed; fetching the keys from the jwks_uri it named last", "url", *k.jwksURL.Load(), "err", err)
		}
	}
	body, err := k.get(ctx, *k.jwksURL.Load())
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	keys, skipped, err := parseRemoteJWKS(ctx, body)
	if err != nil {
		return nil, fmt.Errorf("JWKS from %s: %w", *k.jwksURL.Load(), err)
	}
	k.skipped.Store(&skipped)
	return keys, nil
}

// discover reads the OpenID Provider's configuration (OpenID Connect
// Discovery 1.0 §4) and returns its jwks_uri. Its issuer must be the
// configured one exactly (§4.3), or tokens would be checked against keys of
// a provider that does not claim them.
func (k *RemoteKeys) discover(ctx context.Context) (string, error) {
	where := strings.TrimSuffix(k.cfg.OIDCIssuer, "/") + "/.well-known/openid-configuration"
	body, err := k.get(ctx, where)
	if err != nil {
		return "", fmt.Errorf("OIDC discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("OIDC discovery %s: %w", where, err)
	}
	if doc.Issuer != k.cfg.OIDCIssuer {
		return "", fmt.Errorf("OIDC discovery %s: %w: %q, want %q", where, ErrIssuerMismatch, doc.Issuer, k.cfg.OIDCIssuer)
	}
	if doc.JWKSURI == "" {
		return "", fmt.Errorf("OIDC discovery %s: no jwks_uri", where)
	}
	if err := CheckKeysURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("OIDC discovery %s: jwks_uri %w", where, err)
	}
	return doc.JWKSURI, nil
}

func (k *RemoteKeys) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("GET %s: answer over %d bytes", u, maxJWKSBytes)
	}
	return body, nil
}

// parseRemoteJWKS reads a fetched set with keyfunc (which validates each
// JWK with jwkset) and keeps the keys revokd verifies with, by the rules of
// a JWKS file. A symmetric key is skipped: a secret published at a URL is
// no secret. So is a key revokd cannot use (an unknown kty, an X25519 or
// secp256k1 key, an RSA key under 1024 bits, an alg its type contradicts),
// as RFC 7517 §5 asks: one such key must not cost the issuer every other.
// skipped says why each was left out.
func parseRemoteJWKS(ctx context.Context, body []byte) (keys []*verifyKey, skipped []string, err error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, fmt.Errorf("parse JWKS: %w", err)
	}
	for i, raw := range set.Keys {
		k, err := parseRemoteJWK(ctx, i, raw)
		switch {
		case err != nil:
			skipped = append(skipped, err.Error())
		case k != nil:
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, skipped, fmt.Errorf("no usable signature-verification key (skipped: %s)", strings.Join(skipped, "; "))
	}
	return keys, skipped, nil
}

// parseRemoteJWK reads the i'th key of a fetched set: nil for one meant
// for encryption or a symmetric one, an error for one revokd cannot use.
func parseRemoteJWK(ctx context.Context, i int, raw json.RawMessage) (*verifyKey, error) {
	kf, err := keyfunc.NewJWKSetJSON(json.RawMessage(`{"keys":[` + string(raw) + `]}`))
	if err != nil {
		return nil, fmt.Errorf("fetched key %d: %w", i, err)
	}
	jwks, err := kf.Storage().KeyReadAll(ctx)
	if err != nil || len(jwks) != 1 {
		return nil, fmt.Errorf("fetched key %d: %d keys, %v", i, len(jwks), err)
	}
	m := jwks[0].Marshal()
	if m.USE == jwkset.UseEnc || m.KTY == jwkset.KtyOct {
		return nil, nil
	}
	pub := jwks[0].Key()
	if priv, ok := pub.(interface{ Public() crypto.PublicKey }); ok {
		pub = priv.Public() // a provider that leaked its private key still has a public one
	}
	return jwkVerifyKey(fmt.Sprintf("fetched key %d (kid %q)", i, m.KID), m.KID, string(m.ALG), pub)
}

// skippedKeys says which keys of the last good fetch were left out, and
// why.
func (k *RemoteKeys) skippedKeys() []string {
	if p := k.skipped.Load(); p != nil {
		return *p
	}
	return nil
}

// current returns the set in use, nil before the first good fetch.
func (k *RemoteKeys) current() *keySet { return k.set.Load() }

// refetch is a validation's answer to an unknown kid: it joins the fetch
// under way, or starts one when the last unknown kid started one at least
// MinRefresh ago, and waits for it at most Timeout. It never waits for the
// rate limit itself: a kid the limit refuses is unknown_key at once. It
// reports whether the set changed.
func (k *RemoteKeys) refetch(seen *keySet) bool {
	now := k.cfg.Clock.Now()
	k.mu.Lock()
	f := k.inflight
	if f == nil {
		if !k.lastKidTry.IsZero() && now.Sub(k.lastKidTry) < k.cfg.MinRefresh {
			k.mu.Unlock()
			return k.current() != seen
		}
		k.lastKidTry = now
		f = &fetch{done: make(chan struct{})}
		k.inflight = f
		select {
		case k.wake <- struct{}{}:
		default:
		}
	}
	k.mu.Unlock()
	timer, expired := k.cfg.Clock.NewTimer(k.cfg.Timeout)
	defer timer.Stop()
	select {
	case <-f.done:
	case <-expired:
	}
	return k.current() != seen
}

// KeysStatus is what status and metrics say of a remote key set.
type KeysStatus struct {
	URL          string    // the JWKS URL, once known
	Fetched      time.Time // when the set in use was fetched; zero before the first
	Keys         int       // keys in the set in use
	LastError    string    // the last fetch's failure, empty once one succeeds
	LastErrorAt  time.Time
	FetchesOK    uint64
	FetchesError uint64
}

// Status reports the set in use and the fetches.
func (k *RemoteKeys) Status() KeysStatus {
	st := KeysStatus{URL: k.url(), FetchesOK: k.fetchesOK.Load(), FetchesError: k.fetchesFail.Load()}
	if s := k.current(); s != nil {
		st.Fetched, st.Keys = s.fetched, len(s.keys)
	}
	k.mu.Lock()
	if k.lastErr != nil {
		st.LastError, st.LastErrorAt = k.lastErr.Error(), k.lastErrAt
	}
	k.mu.Unlock()
	return st
}

// remoteRing is the keyring built from one fetched set.
type remoteRing struct {
	set  *keySet
	ring *keyring
}

// remoteAlgorithms checks the configured algorithms for fetched keys, which
// are not known at start, or picks every asymmetric one: a fetched set never
// supplies an HMAC secret.
func remoteAlgorithms(want []string) ([]string, error) {
	asym := slices.Concat(rsaAlgs, ecdsaAlgs, ed25519Algs)
	if len(want) == 0 {
		return asym, nil
	}
	var errs []error
	for _, alg := range want {
		switch {
		case strings.EqualFold(alg, "none"):
			errs = append(errs, errors.New(`algorithm "none" is never allowed`))
		case slices.Contains(hmacAlgs, alg):
			errs = append(errs, fmt.Errorf("algorithm %s needs a shared secret, which fetched keys never are", alg))
		case !slices.Contains(asym, alg):
			errs = append(errs, fmt.Errorf("algorithm %q is unknown (known: %s)", alg, strings.Join(asym, ", ")))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return dedupe(want), nil
}
