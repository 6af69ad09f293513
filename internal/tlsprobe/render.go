package tlsprobe

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report in the stable JSON layout of docs/tls.md.
func WriteJSON(w io.Writer, r Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode tls report: %w", err)
	}
	return nil
}

// WriteText writes a human-readable report, one block per endpoint, streaming
// as it goes.
func WriteText(w io.Writer, r Report) error {
	ew := &errWriter{w: w}
	for i, e := range r.Endpoints {
		if i > 0 {
			ew.printf("\n")
		}
		writeEndpointText(ew, e, r.FailOn)
	}
	s := r.Summary
	ew.printf("\n%d endpoint(s): %d pass, %d warn, %d fail, %d error; %d at or above %s\n",
		s.Endpoints, s.Pass, s.Warn, s.Fail, s.Error, s.Failing, r.FailOn)
	if ew.err != nil {
		return fmt.Errorf("write tls report: %w", ew.err)
	}
	return nil
}

func writeEndpointText(ew *errWriter, e EndpointResult, failOn Severity) {
	ew.printf("%s (%s", e.Target, e.Address)
	if e.Source != "" {
		ew.printf(", from %s", e.Source)
	}
	ew.printf(", %dms)\n", e.Duration.Milliseconds())
	if t := e.TLS; t != nil {
		var acc []string
		for _, v := range t.Versions {
			if v.Accepted {
				acc = append(acc, v.Version)
			}
		}
		ew.printf("  versions:   %s\n", orNone(strings.Join(acc, ", ")))
		var unknown []string
		for _, v := range t.Versions {
			if v.Unknown {
				unknown = append(unknown, v.Version)
			}
		}
		if len(unknown) > 0 {
			ew.printf("  no answer:  %s (neither accepted nor refused)\n", strings.Join(unknown, ", "))
		}
		if t.NegotiatedVersion != "" {
			ew.printf("  negotiated: %s %s\n", t.NegotiatedVersion, t.NegotiatedSuite)
		}
		var suites []string
		for _, s := range t.Suites12 {
			if s.Accepted {
				suites = append(suites, s.Name)
			}
		}
		if t.Suites12 != nil {
			ew.printf("  tls1.2:     %s\n", orNone(strings.Join(suites, " ")))
		}
		if c := t.Certificate; c != nil {
			ew.printf("  cert:       %s, %s %d, %s, expires %s (%d days)\n",
				c.Subject, c.KeyType, c.KeyBits, c.SignatureAlgorithm, c.NotAfter.Format("2006-01-02"), c.DaysToExpiry)
		}
	}
	for _, c := range e.Checks {
		mark := strings.ToUpper(string(c.Status))
		if c.Failing(failOn) {
			mark += "!"
		}
		ew.printf("  %-6s %-8s %-30s %s\n", mark, c.Severity, c.ID, c.Message)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// errWriter keeps the first write error so the renderer reads straight.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err != nil {
		return
	}
	_, e.err = fmt.Fprintf(e.w, format, args...)
}
