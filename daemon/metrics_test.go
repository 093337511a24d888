package daemon

import (
	"io"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/revokd/revokd/cache"
)

// feedSource reports notifications its change feed ignored.
type feedSource struct {
	*memSource
	ignored int64
}

func (f *feedSource) Status() cache.SourceStatus {
	st := f.memSource.Status()
	st.NotificationsIgnored = f.ignored
	return st
}

func TestMetricNotificationsIgnored(t *testing.T) {
	f := newServiceFixture(t, 0)
	src := &feedSource{memSource: f.src, ignored: 12}
	svc := newService(f.p, f.r, src, f.clock, 0, nil)
	reg := prometheus.NewRegistry()
	newMetrics(reg, svc, slog.New(slog.NewTextHandler(io.Discard, nil)))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() == "revokd_feed_notifications_ignored_total" {
			if got := mf.GetMetric()[0].GetCounter().GetValue(); got != 12 {
				t.Errorf("revokd_feed_notifications_ignored_total = %v, want 12", got)
			}
			return
		}
	}
	t.Error("revokd_feed_notifications_ignored_total not exported")
}
