package daemon

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/revokd/revokd/cache"
	"github.com/revokd/revokd/client/apitype"
)

// Operations, as metric labels.
const (
	opValidate   = apitype.OpValidate
	opAuth       = "auth"
	opIntrospect = "introspect"
	opLogout     = "backchannel-logout"
	opRevoke     = apitype.OpRevoke
	opRevokeAll  = apitype.OpRevokeAll
	opUnban      = apitype.OpUnban
	opStatus     = apitype.OpStatus
	opIssue      = apitype.OpIssue
	opRefresh    = apitype.OpRefresh
	opJWKS       = "jwks"
	opHealth     = "healthz"
	opReady      = "readyz"
	opMetrics    = "metrics"
	opNone       = "none" // a request that named no known route or op
)

// metrics holds the daemon's collectors. The hot path (validate answered,
// per result) uses counters resolved once here, so a request costs one
// atomic add per counter and no label lookup.
type metrics struct {
	requests      *prometheus.CounterVec
	validateOK    prometheus.Counter
	authOK        prometheus.Counter
	resultsVec    *prometheus.CounterVec
	results       map[string]prometheus.Counter // reason, "" for active
	connsOpen     prometheus.Gauge
	connsNDJSON   prometheus.Counter
	connsHTTP     prometheus.Counter
	connsRejected prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, b Backend, log *slog.Logger) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revokd_requests_total",
			Help: "Requests answered, by operation and outcome (ok or an error code).",
		}, []string{"op", "outcome"}),
		resultsVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "revokd_validate_results_total",
			Help: "Validation answers, by result: active or the reason a token is not.",
		}, []string{"result"}),
		connsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "revokd_connections_open",
			Help: "Connections currently open on the socket.",
		}),
		connsRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "revokd_connections_rejected_total",
			Help: "Connections closed at once because the connection cap was reached.",
		}),
	}
	conns := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "revokd_connections_total",
		Help: "Connections served, by framing.",
	}, []string{"framing"})
	m.connsNDJSON = conns.WithLabelValues("ndjson")
	m.connsHTTP = conns.WithLabelValues("http")
	m.validateOK = m.requests.WithLabelValues(opValidate, "ok")
	m.authOK = m.requests.WithLabelValues(opAuth, "ok")
	m.results = map[string]prometheus.Counter{"": m.resultsVec.WithLabelValues("active")}
	for _, r := range apitype.Reasons {
		m.results[r] = m.resultsVec.WithLabelValues(r)
	}
	cutoffs := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "revokd_replica_cutoffs",
		Help: "Cutoffs held in the replica.",
	}, func() float64 { return float64(b.Status().Cutoffs) })
	denials := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "revokd_replica_denials",
		Help: "Denials held in the replica.",
	}, func() float64 { return float64(b.Status().Denials) })

	collectors := []prometheus.Collector{m.requests, m.resultsVec, m.connsOpen, m.connsRejected, conns, cutoffs, denials}
	if src, ok := b.(sourceStatuser); ok {
		collectors = append(collectors, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "revokd_feed_notifications_ignored_total",
			Help: "Change notifications ignored: unusable, or not backed by the store's tables (forged, say).",
		}, func() float64 { return float64(src.SourceStatus().NotificationsIgnored) }))
	}
	if r, ok := b.(reuseCounter); ok {
		collectors = append(collectors, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "revokd_refresh_reuse_total",
			Help: "Refreshes of a token already refreshed (refresh-token reuse), each of which ended its session.",
		}, func() float64 { return float64(r.Reuses()) }))
	}
	if r, ok := b.(reloadStatuser); ok {
		for _, result := range []string{"ok", "error"} {
			collectors = append(collectors, prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "revokd_reloads_total",
				Help:        "Reloads of the key files (SIGHUP), by result; a failed one keeps the keys in use.",
				ConstLabels: prometheus.Labels{"result": result},
			}, func() float64 {
				ok, failed := r.Reloads()
				if result == "ok" {
					return float64(ok)
				}
				return float64(failed)
			}))
		}
	}
	if k, ok := b.(keysStatuser); ok {
		collectors = append(collectors, keysCollector{k})
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			// Serving matters more than counting: a clash (two servers on one
			// registry) leaves this collector unexported, and says so.
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				log.Warn("register metric", "err", err)
			} else {
				log.Warn("metric already registered; not exported by this server", "err", err)
			}
		}
	}
	return m
}

// sourceStatuser is a Backend that reports its source's status.
type sourceStatuser interface{ SourceStatus() cache.SourceStatus }

// SourceStatus reports the source's own status, for metrics that
// apitype.StatusResponse does not carry.
func (s *Service) SourceStatus() cache.SourceStatus { return s.src.Status() }

// keysStatuser is a Backend whose keys may be fetched.
type keysStatuser interface {
	KeysStatus() []issuerKeys
	Now() time.Time
}

// KeysStatus reports each fetched key set; none when keys are not fetched.
func (s *Service) KeysStatus() []issuerKeys {
	if s.fetch == nil {
		return nil
	}
	return s.fetch.statuses()
}

// keysCollector exports the fetched key sets, labelled by issuer ("" for
// the one issuer of --jwks-url or --oidc-issuer without --issuer): the
// sets come and go with reloads of the issuers file.
type keysCollector struct{ k keysStatuser }

var (
	jwksFetchesDesc = prometheus.NewDesc("revokd_jwks_fetches_total",
		"Fetches of an identity provider's key set, by issuer and result.", []string{"issuer", "result"}, nil)
	jwksAgeDesc = prometheus.NewDesc("revokd_jwks_age_seconds",
		"Age of an issuer's key set in use, fetched from its identity provider; -1 before the first.", []string{"issuer"}, nil)
)

func (c keysCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- jwksFetchesDesc
	ch <- jwksAgeDesc
}

func (c keysCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.k.Now()
	for _, st := range c.k.KeysStatus() {
		ch <- prometheus.MustNewConstMetric(jwksFetchesDesc, prometheus.CounterValue, float64(st.FetchesOK), st.Issuer, "ok")
		ch <- prometheus.MustNewConstMetric(jwksFetchesDesc, prometheus.CounterValue, float64(st.FetchesError), st.Issuer, "error")
		age := -1.0
		if !st.Fetched.IsZero() {
			age = now.Sub(st.Fetched).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(jwksAgeDesc, prometheus.GaugeValue, age, st.Issuer)
	}
}

// Now is the service's clock, for ages in metrics.
func (s *Service) Now() time.Time { return s.clock.Now() }

func (m *metrics) request(op string, err error) {
	if err == nil {
		m.requests.WithLabelValues(op, "ok").Inc()
		return
	}
	_, body := errorOf(err)
	m.requests.WithLabelValues(op, body.Code).Inc()
}

func (m *metrics) result(reason string) {
	if c, ok := m.results[reason]; ok {
		c.Inc()
		return
	}
	m.resultsVec.WithLabelValues(reason).Inc()
}
