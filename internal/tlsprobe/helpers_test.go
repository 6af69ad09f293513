package tlsprobe_test

import (
	"context"
	"crypto/x509"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/budnet/budnet/internal/tlsprobe"
)

// probe runs one check with the test CA as the only root.
func probe(t testing.TB, roots *x509.CertPool, raw string, tweak ...func(*tlsprobe.Options)) tlsprobe.EndpointResult {
	t.Helper()
	target, err := tlsprobe.ParseTarget(raw)
	if err != nil {
		t.Fatalf("parse target: %v", err)
	}
	opts := tlsprobe.Options{RootCAs: roots, Timeout: 5 * time.Second}
	for _, f := range tweak {
		f(&opts)
	}
	p, err := tlsprobe.New(opts)
	if err != nil {
		t.Fatalf("new prober: %v", err)
	}
	return p.Check(context.Background(), target)
}

// checkOf returns the check with id, failing the test if it is absent.
func checkOf(t testing.TB, r tlsprobe.EndpointResult, id string) tlsprobe.Check {
	t.Helper()
	for _, c := range r.Checks {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("%s: no check %q in %+v", r.Target, id, r.Checks)
	return tlsprobe.Check{}
}

// wantStatus asserts the status of each named check.
func wantStatus(t testing.TB, r tlsprobe.EndpointResult, want map[string]tlsprobe.Status) {
	t.Helper()
	for id, st := range want {
		if c := checkOf(t, r, id); c.Status != st {
			t.Errorf("%s: check %s = %s (%s), want %s", r.Target, id, c.Status, c.Message, st)
		}
	}
}

func acceptedVersions(r tlsprobe.EndpointResult) []string {
	var out []string
	if r.TLS == nil {
		return nil
	}
	for _, v := range r.TLS.Versions {
		if v.Accepted {
			out = append(out, v.Version)
		}
	}
	return out
}

func acceptedSuites(r tlsprobe.EndpointResult) []string {
	var out []string
	if r.TLS == nil {
		return nil
	}
	for _, s := range r.TLS.Suites12 {
		if s.Accepted {
			out = append(out, s.Name)
		}
	}
	return out
}

func portOf(t testing.TB, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("split %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("port of %q: %v", addr, err)
	}
	return n
}
