package egress

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminHandler serves /metrics from gatherer, /healthz (the process answers)
// and /readyz (a policy is loaded, the pod index has synced when there is one,
// and the server is not draining, so a terminating replica leaves the Service
// endpoints before its tunnels are cut). podsSynced may be nil.
func AdminHandler(s *Server, gatherer prometheus.Gatherer, podsSynced func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		switch {
		case s.Draining():
			http.Error(w, "draining", http.StatusServiceUnavailable)
		case s.Policy() == nil:
			http.Error(w, "no policy", http.StatusServiceUnavailable)
		case podsSynced != nil && !podsSynced():
			http.Error(w, "pod index not synced", http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte("ok\n"))
		}
	})
	return mux
}
