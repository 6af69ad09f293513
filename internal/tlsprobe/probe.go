package tlsprobe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Options configure a Prober. The zero value of each field means its default.
type Options struct {
	// Timeout bounds every dial, handshake and HTTP exchange (default 5s).
	Timeout time.Duration
	// Concurrency is how many targets are probed at once (default 8).
	Concurrency int
	// HandshakeConcurrency is how many handshakes one target sees at once
	// while versions and suites are enumerated (default 4).
	HandshakeConcurrency int
	// RootCAs verifies certificate chains; nil means the system roots.
	RootCAs *x509.CertPool
	// HTTPPort is where https targets are expected to serve the plain-HTTP
	// redirect (default 80).
	HTTPPort int
	// Resolve maps "host:port" to the "addr:port" to dial instead, like curl
	// --resolve: the host name is still what the certificate must match.
	Resolve map[string]string
	// Dial opens TCP connections (default a net.Dialer).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// Now is the clock used for certificate validity (default time.Now).
	Now func() time.Time
	// Logger receives debug records about each probe (default discards).
	Logger *slog.Logger
}

// Prober runs checks against endpoints. It holds no per-probe state and is
// safe for concurrent use.
type Prober struct {
	opts Options
}

// New validates opts, fills in defaults and returns a Prober.
func New(opts Options) (*Prober, error) {
	var errs []error
	if opts.Timeout < 0 {
		errs = append(errs, fmt.Errorf("timeout %v is negative", opts.Timeout))
	}
	if opts.Concurrency < 0 || opts.HandshakeConcurrency < 0 {
		errs = append(errs, errors.New("concurrency must not be negative"))
	}
	if opts.HTTPPort < 0 || opts.HTTPPort > 65535 {
		errs = append(errs, fmt.Errorf("http port %d is not in 1-65535", opts.HTTPPort))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("tls probe options: %w", err)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = 8
	}
	if opts.HandshakeConcurrency == 0 {
		opts.HandshakeConcurrency = 4
	}
	if opts.HTTPPort == 0 {
		opts.HTTPPort = 80
	}
	if opts.Dial == nil {
		d := &net.Dialer{Timeout: opts.Timeout}
		opts.Dial = d.DialContext
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Prober{opts: opts}, nil
}

// CheckAll probes targets concurrently, at most Options.Concurrency at a time,
// and returns results in the order of targets. Targets not started before ctx
// ends are reported with an error check.
func (p *Prober) CheckAll(ctx context.Context, targets []Target) []EndpointResult {
	out := make([]EndpointResult, len(targets))
	sem := make(chan struct{}, p.opts.Concurrency)
	var wg sync.WaitGroup
	for i, t := range targets {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			out[i] = p.failed(t, fmt.Errorf("not probed: %w", ctx.Err()), 0)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = p.Check(ctx, t)
		}()
	}
	wg.Wait()
	return out
}

// Check probes one target and returns the observations with their verdicts.
func (p *Prober) Check(ctx context.Context, t Target) EndpointResult {
	start := time.Now()
	r := newResult(t, p.opts.Resolve)
	p.observe(ctx, t, &r)
	r.Duration = time.Since(start)
	r.Checks = Evaluate(r, p.opts.Now())
	p.opts.Logger.DebugContext(ctx, "tls probe done", "target", r.Target, "duration", r.Duration, "checks", len(r.Checks))
	return r
}

func newResult(t Target, resolve map[string]string) EndpointResult {
	addr := t.Address()
	if to, ok := resolve[addr]; ok {
		addr = to
	}
	minV := t.MinVersion
	if minV == 0 {
		minV = tls.VersionTLS12
	}
	return EndpointResult{
		Target: t.String(), Scheme: t.Scheme, Host: t.Host, Port: t.Port, Address: addr, Source: t.Source,
		MinVersion: tls.VersionName(minV),
	}
}

func (p *Prober) failed(t Target, err error, d time.Duration) EndpointResult {
	r := newResult(t, p.opts.Resolve)
	r.Error = err.Error()
	r.Duration = d
	r.Checks = Evaluate(r, p.opts.Now())
	return r
}

// observe fills r with everything the endpoint shows; verdicts come later.
func (p *Prober) observe(ctx context.Context, t Target, r *EndpointResult) {
	if t.Scheme == SchemePostgres {
		// Independent of TLS: even a server with TLS on may still take plaintext.
		r.Postgres = &PostgresInfo{}
		outcome, detail, err := p.probePlaintextStartup(ctx, t)
		r.Postgres.PlaintextStartup, r.Postgres.PlaintextDetail = outcome, detail
		if err != nil {
			r.Postgres.PlaintextDetail = err.Error()
		}
	}

	// What a current client gets: Go's defaults (TLS 1.2+, secure suites).
	// The connection is used for what needs an established session and then
	// closed before any other probe starts: a server that serves one
	// connection at a time would otherwise leave every later probe unanswered.
	nego := p.handshake(ctx, t, handshakeSpec{nextProtos: alpnFor(t.Scheme), keepOpen: true})
	if t.Scheme == SchemePostgres {
		switch {
		case errors.Is(nego.err, errSSLRefused):
			r.Postgres.SSLResponse = "N"
			return
		case !isPreTLS(nego.err):
			r.Postgres.SSLResponse = "S" // the SSLRequest exchange got as far as TLS
		}
	}
	if isPreTLS(nego.err) {
		r.Error = nego.err.Error()
		return
	}
	if nego.err != nil && (ctx.Err() != nil || isTimeout(nego.err)) {
		// Silence, not an alert: nothing speaks TLS there (or we were told to
		// stop), and enumerating would only wait out more timeouts.
		r.Error = "no tls answer: " + nego.err.Error()
		return
	}
	session := p.useSession(t, &nego)

	info := &TLSInfo{}
	r.TLS = info
	if nego.err == nil {
		info.NegotiatedVersion = tls.VersionName(nego.state.Version)
		info.NegotiatedSuite = tls.CipherSuiteName(nego.state.CipherSuite)
		info.ALPN = nego.state.NegotiatedProtocol
	}
	versions, vh := p.enumerateVersions(ctx, t)
	info.Versions = withNegotiated(versions, nego)
	if accepted(info.Versions, tls.VersionTLS12) {
		info.Suites12 = p.enumerateSuites12(ctx, t)
	}
	r.Redis = session.redis
	info.ClientAuth = clientAuth(nego, vh, session.rejected13)
	if session.pingErr != nil && info.ClientAuth != "required" {
		r.Redis = &RedisInfo{Error: session.pingErr.Error()}
	}
	info.Certificate = inspectChain(chainOf(append([]handshakeResult{nego}, vh...)...), t.Host, p.opts.RootCAs, p.opts.Now())
	if t.Scheme == SchemeHTTPS {
		r.HTTP = p.probeHTTP(ctx, t)
	}
}

// sessionFacts is what the negotiated session showed before it was closed.
type sessionFacts struct {
	redis   *RedisInfo
	pingErr error
	// rejected13 is a TLS 1.3 server rejecting our missing client
	// certificate after the handshake.
	rejected13 bool
}

// useSession reads what only an established session shows, then closes it.
func (p *Prober) useSession(t Target, nego *handshakeResult) sessionFacts {
	var f sessionFacts
	if nego.conn == nil {
		return f
	}
	defer func() { nego.conn.Close(); nego.conn = nil }()
	// A Redis PING doubles as the read that shows whether a TLS 1.3 server
	// rejected our missing client certificate.
	if t.Scheme == SchemeRedis {
		f.redis, f.pingErr = redisPing(nego.conn, p.opts.Timeout)
	}
	if nego.certRequested && nego.state.Version == tls.VersionTLS13 {
		if t.Scheme == SchemeRedis {
			f.rejected13 = isRemoteError(f.pingErr)
		} else {
			f.rejected13 = probeRequiredTLS13(nego.conn, min(p.opts.Timeout, 300*time.Millisecond))
		}
	}
	return f
}

// withNegotiated counts the negotiated handshake as evidence for its own
// version: one result must not say both "negotiated TLS 1.3" and that TLS
// 1.3 was refused or unanswered.
func withNegotiated(vs []VersionResult, nego handshakeResult) []VersionResult {
	if nego.err != nil {
		return vs
	}
	name := tls.VersionName(nego.state.Version)
	for i := range vs {
		if vs[i].Version == name && !vs[i].Accepted {
			vs[i] = VersionResult{Version: name, Accepted: true, Evidence: "handshake", Note: "negotiated"}
		}
	}
	return vs
}

// clientAuth decides the client-certificate policy, reading from the
// negotiated TLS 1.3 session only when no TLS 1.2 handshake settled it.
func clientAuth(nego handshakeResult, vh []handshakeResult, rejected13 bool) string {
	all := append([]handshakeResult{nego}, vh...)
	mode := clientAuthMode(all, false)
	if mode != "requested" {
		return mode
	}
	for _, h := range vh {
		if h.certRequested && h.err == nil && h.state.Version <= tls.VersionTLS12 {
			return mode // a TLS 1.2 handshake completed without a certificate
		}
	}
	if nego.err == nil && nego.certRequested && nego.state.Version == tls.VersionTLS13 {
		return clientAuthMode(all, rejected13)
	}
	return mode
}

// unanswered reports a probe error that says nothing about what the server
// accepts: no connection, no upgrade, or no answer before the deadline. Such
// a probe is unknown, never a refusal. An alert, a ServerHello naming another
// version, or the server closing the connection are answers.
func unanswered(err error) bool {
	return err != nil && (isPreTLS(err) || isTimeout(err))
}

// isTimeout reports a deadline or cancellation, from the context or the socket.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.As(err, &ne) && ne.Timeout()
}

func alpnFor(s Scheme) []string {
	if s == SchemeHTTPS || s == SchemeClickHouseHTTPS {
		return []string{"h2", "http/1.1"}
	}
	return nil
}

func accepted(vs []VersionResult, v uint16) bool {
	name := tls.VersionName(v)
	for _, r := range vs {
		if r.Version == name {
			return r.Accepted
		}
	}
	return false
}
