package admission

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/budnet/budnet/internal/platform"
)

// Source gives the guard the cluster's current objects and the model (the
// controller's informer caches); an error means it cannot decide yet.
type Source func() ([]*unstructured.Unstructured, *platform.Platform, error)

// Handler serves the guard as a ValidatingWebhook (admission.k8s.io/v1).
type Handler struct {
	Source Source
	// Timeout bounds a decision; keep it below the webhook's timeoutSeconds
	// so the API server gets the guard's answer, not its own failurePolicy.
	Timeout time.Duration
	// DenyUndecided denies a change the guard could not judge in time (or at
	// all); false admits it. Either way the answer carries a warning.
	DenyUndecided bool
	Log           *slog.Logger

	mode      atomic.Value // Mode
	decisions *prometheus.CounterVec
}

// maxReviewBytes bounds an AdmissionReview body (the API server's own
// request limit is 3 MiB; a review holds the object twice).
const maxReviewBytes = 7 << 20

// NewHandler returns a Handler in mode, registering its counter on reg.
func NewHandler(src Source, mode Mode, timeout time.Duration, denyUndecided bool, reg prometheus.Registerer, log *slog.Logger) (*Handler, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &Handler{Source: src, Timeout: timeout, DenyUndecided: denyUndecided, Log: log,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "budnet_admission_decisions_total",
			Help: "Admission guard answers by result: allowed, denied, warned, undecided-allowed, undecided-denied (timeouts, unjudged policy parts, evaluation errors), bad-request.",
		}, []string{"result", "reason"})}
	if reg != nil {
		if err := reg.Register(h.decisions); err != nil {
			return nil, fmt.Errorf("admission metrics: %w", err)
		}
	}
	h.SetMode(mode)
	return h, nil
}

// SetMode switches between enforce and warn.
func (h *Handler) SetMode(m Mode) { h.mode.Store(m) }

// ServeHTTP answers one AdmissionReview.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var review admissionv1.AdmissionReview
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReviewBytes+1))
	if err == nil && len(body) > maxReviewBytes {
		err = errors.New("review larger than 7 MiB")
	}
	if err == nil {
		err = json.Unmarshal(body, &review)
	}
	if err == nil && review.Request == nil {
		err = errors.New("AdmissionReview without a request")
	}
	if err != nil {
		h.decisions.WithLabelValues("bad-request", "").Inc()
		http.Error(w, "budnet admission: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp := h.review(r.Context(), review.Request)
	resp.UID = review.Request.UID
	out := admissionv1.AdmissionReview{TypeMeta: review.TypeMeta, Response: resp}
	out.SetGroupVersionKind(admissionv1.SchemeGroupVersion.WithKind("AdmissionReview"))
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		h.Log.Warn("writing the admission response", "err", err)
	}
}

func decode(raw []byte) (*unstructured.Unstructured, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(raw); err != nil {
		return nil, err
	}
	return u, nil
}

func (h *Handler) review(ctx context.Context, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	obj, err := decode(req.Object.Raw)
	if err == nil {
		var old *unstructured.Unstructured
		if old, err = decode(req.OldObject.Raw); err == nil {
			return h.decide(ctx, Change{Operation: Operation(req.Operation), Object: obj, OldObject: old}, req)
		}
	}
	return h.undecided(fmt.Sprintf("cannot decode %s %s/%s: %v", req.Kind.Kind, req.Namespace, req.Name, err), "decode")
}

type result struct {
	d   Decision
	err error
}

func (h *Handler) decide(ctx context.Context, ch Change, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	objs, model, err := h.Source()
	if err != nil {
		return h.undecided("the cluster state is not known yet: "+err.Error(), "not-ready")
	}
	mode, _ := h.mode.Load().(Mode)
	done := make(chan result, 1)
	go func() {
		d, err := Guard{Mode: mode, Platform: model}.Decide(ctx, objs, ch)
		done <- result{d, err}
	}()
	var res result
	select {
	case <-ctx.Done():
		return h.undecided(fmt.Sprintf("no decision within %s", h.Timeout), "timeout")
	case res = <-done:
	}
	if res.err != nil {
		if ctx.Err() != nil {
			return h.undecided(fmt.Sprintf("no decision within %s", h.Timeout), "timeout")
		}
		var nj *NotJudgedError
		if errors.As(res.err, &nj) {
			return h.undecided(res.err.Error(), "unjudged")
		}
		return h.undecided(res.err.Error(), "error")
	}
	d := res.d
	dry := req.DryRun != nil && *req.DryRun
	h.Log.Info("admission", "op", req.Operation, "kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name,
		"allowed", d.Allowed, "opened", len(d.Opened), "broken", len(d.Broken), "dryRun", dry)
	resp := &admissionv1.AdmissionResponse{Allowed: d.Allowed, Warnings: d.Warnings}
	switch {
	case !d.Allowed:
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: d.Message}
		h.decisions.WithLabelValues("denied", "").Inc()
	case len(d.Warnings) > 0:
		h.decisions.WithLabelValues("warned", "").Inc()
	default:
		h.decisions.WithLabelValues("allowed", "").Inc()
	}
	return resp
}

// undecided answers per DenyUndecided, and says so.
func (h *Handler) undecided(why, reason string) *admissionv1.AdmissionResponse {
	msg := "budnet admission guard could not decide: " + why
	h.Log.Warn(msg)
	if h.DenyUndecided {
		h.decisions.WithLabelValues("undecided-denied", reason).Inc()
		return &admissionv1.AdmissionResponse{Allowed: false, Warnings: []string{msg},
			Result: &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: msg + " (denied: --on-timeout=deny)"}}
	}
	h.decisions.WithLabelValues("undecided-allowed", reason).Inc()
	return &admissionv1.AdmissionResponse{Allowed: true, Warnings: []string{msg + " (admitted: --on-timeout=admit)"}}
}

// CertReloader serves tls.crt and tls.key of a directory (a mounted
// kubernetes.io/tls Secret), loading them again when tls.crt changes, so a
// renewed certificate (cert-manager) is used without a restart.
type CertReloader struct {
	Dir string

	mu      sync.Mutex
	modTime time.Time
	cert    *tls.Certificate
}

// GetCertificate implements tls.Config.GetCertificate.
func (c *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	crt, key := filepath.Join(c.Dir, "tls.crt"), filepath.Join(c.Dir, "tls.key")
	fi, err := os.Stat(crt)
	if err != nil {
		return nil, fmt.Errorf("webhook certificate: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert == nil || !fi.ModTime().Equal(c.modTime) {
		cert, err := tls.LoadX509KeyPair(crt, key)
		if err != nil {
			if c.cert != nil {
				// Mid-rotation (one file written, not the other): keep serving the old pair.
				return c.cert, nil
			}
			return nil, fmt.Errorf("webhook certificate: %w", err)
		}
		c.cert, c.modTime = &cert, fi.ModTime()
	}
	return c.cert, nil
}
