package tlsprobe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// probeVersions are tried one at a time, oldest first.
var probeVersions = []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}

// errPreTLS marks a failure before the ClientHello was sent (dial, or the
// protocol's own upgrade step such as PostgreSQL's SSLRequest). It says nothing
// about the TLS versions or suites being tried, so it aborts enumeration.
var errPreTLS = errors.New("could not start tls")

// handshakeSpec pins what one handshake offers.
type handshakeSpec struct {
	minVersion, maxVersion uint16
	// suites nil offers Go's defaults; TLS 1.3 suites are not configurable in Go
	// and always offered (https://pkg.go.dev/crypto/tls#Config.CipherSuites).
	suites     []uint16
	nextProtos []string
	// keepOpen hands the established connection to the caller, who closes it.
	keepOpen bool
}

// handshakeResult is what one handshake revealed.
type handshakeResult struct {
	state         tls.ConnectionState
	conn          *tls.Conn // non-nil only with keepOpen and success
	certRequested bool
	err           error
}

// allSuites12 lists every TLS 1.2-capable suite Go implements, secure first.
// Go ignores the order of Config.CipherSuites, so order only matters for the report.
func allSuites12() []*tls.CipherSuite {
	var out []*tls.CipherSuite
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, s := range list {
			for _, v := range s.SupportedVersions {
				if v == tls.VersionTLS12 {
					out = append(out, s)
					break
				}
			}
		}
	}
	return out
}

// allSuiteIDs offers everything Go can speak, so a version probe fails only
// because of the version. Listing the insecure suites explicitly is also what
// lifts Go's default exclusions (tlsrsakex, tls3des GODEBUG settings apply only
// when Config.CipherSuites is nil; see crypto/tls/defaults.go).
func allSuiteIDs() []uint16 {
	var ids []uint16
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, s := range list {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// handshake dials the target, runs the scheme's upgrade step and one TLS
// handshake as spec says. Certificates are not verified here: verification is
// done once, on the captured chain, so that an untrusted certificate does not
// hide which versions and suites the server accepts.
func (p *Prober) handshake(ctx context.Context, t Target, spec handshakeSpec) handshakeResult {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	raw, stop, err := p.dial(ctx, t)
	if err != nil {
		return handshakeResult{err: fmt.Errorf("%w: %w", errPreTLS, err)}
	}
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	if err := startTLS(ctx, t.Scheme, raw); err != nil {
		raw.Close()
		return handshakeResult{err: fmt.Errorf("%w: %w", errPreTLS, err)}
	}
	var res handshakeResult
	cfg := &tls.Config{
		ServerName:         t.Host,
		InsecureSkipVerify: true, //nolint:gosec // verified after the handshake, see verifyChain
		MinVersion:         spec.minVersion,
		MaxVersion:         spec.maxVersion,
		CipherSuites:       spec.suites,
		NextProtos:         spec.nextProtos,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			// Reaching this callback proves the server picked our version and
			// suite; answering with no certificate lets it show whether a
			// client certificate is required.
			res.certRequested = true
			return &tls.Certificate{}, nil
		},
	}
	conn := tls.Client(raw, cfg)
	if err := conn.HandshakeContext(ctx); err != nil {
		conn.Close()
		res.err = err
		return res
	}
	res.state = conn.ConnectionState()
	if spec.keepOpen {
		// The caller owns the connection now; this call's ctx ends on return
		// and must not cut it off.
		if !stop() {
			conn.Close()
			return handshakeResult{err: fmt.Errorf("handshake: %w", ctx.Err())}
		}
		_ = conn.SetDeadline(time.Time{})
		res.conn = conn
		return res
	}
	conn.Close()
	return res
}

// dial opens a TCP connection, honouring the Resolve overrides. Until stop
// is called, cancelling ctx unblocks every read and write on the connection:
// the protocol exchanges before TLS (SSLRequest, raw hellos, the plaintext
// startup) use plain socket reads, which do not watch a context.
func (p *Prober) dial(ctx context.Context, t Target) (conn net.Conn, stop func() bool, err error) {
	addr := t.Address()
	if to, ok := p.opts.Resolve[addr]; ok {
		addr = to
	}
	conn, err = p.opts.Dial(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err() // say why, not "operation was canceled"
		}
		return nil, nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return conn, stop, nil
}

// startTLS runs whatever the protocol needs before the ClientHello.
func startTLS(ctx context.Context, s Scheme, conn net.Conn) error {
	if s == SchemePostgres {
		return postgresSSLRequest(ctx, conn)
	}
	return nil
}

// enumerateVersions tries each protocol version on its own connection: a
// full crypto/tls handshake first, then, for versions up to TLS 1.2 that
// failed, a raw ClientHello offering every suite either probe knows, since a
// server may speak an old version only with suites Go lacks. SSL 3.0, which
// Go cannot speak at all, is probed with the raw hello alone.
func (p *Prober) enumerateVersions(ctx context.Context, t Target) ([]VersionResult, []handshakeResult) {
	results := make([]VersionResult, len(probeVersions))
	raw := make([]handshakeResult, len(probeVersions))
	var ssl3 VersionResult
	p.parallel(ctx, len(probeVersions)+1, func(i int) {
		if i == len(probeVersions) {
			ssl3 = p.rawVersion(ctx, t, 0x0300)
			return
		}
		v := probeVersions[i]
		spec := handshakeSpec{minVersion: v, maxVersion: v}
		if v < tls.VersionTLS13 {
			spec.suites = allSuiteIDs()
		}
		h := p.handshake(ctx, t, spec)
		raw[i] = h
		results[i] = VersionResult{Version: tls.VersionName(v), Accepted: h.err == nil, Evidence: "handshake"}
		switch {
		case h.err == nil:
		case h.certRequested:
			// A server that demands a client certificate still accepted the
			// version if it got as far as asking for one.
			results[i].Accepted = true
			results[i].Error = h.err.Error()
		case unanswered(h.err):
			results[i] = VersionResult{Version: tls.VersionName(v), Unknown: true, Error: h.err.Error()}
		case v < tls.VersionTLS13:
			rv := p.rawVersion(ctx, t, v)
			if rv.Accepted || rv.Unknown {
				results[i] = rv
			} else {
				results[i].Error = h.err.Error()
				results[i].Evidence = ""
			}
		default:
			results[i].Error = h.err.Error()
			results[i].Evidence = ""
		}
	})
	for i := range results {
		if results[i].Version == "" { // never started: ctx ended first
			results[i] = VersionResult{Version: tls.VersionName(probeVersions[i]), Unknown: true, Error: "not probed: " + context.Cause(ctx).Error()}
		}
	}
	if ssl3.Version == "" {
		ssl3 = VersionResult{Version: versionFromWire(0x0300), Unknown: true, Error: "not probed: " + context.Cause(ctx).Error()}
	}
	return append([]VersionResult{ssl3}, results...), raw
}

// rawVersion asks, with a hand-made ClientHello, whether the server picks
// version v when offered every known suite.
func (p *Prober) rawVersion(ctx context.Context, t Target, v uint16) VersionResult {
	res := VersionResult{Version: versionFromWire(v)}
	reply, err := p.rawHello(ctx, t, v, allHelloSuites())
	switch {
	case unanswered(err):
		res.Unknown, res.Error = true, err.Error()
	case err != nil:
		res.Error = err.Error()
	case reply.version != v:
		res.Error = fmt.Sprintf("server answered with %s", versionFromWire(reply.version))
	default:
		res.Accepted, res.Evidence = true, "server-hello"
		res.Note = "server chose " + suiteName(reply.suite)
	}
	return res
}

// enumerateSuites12 offers each TLS 1.2 suite Go implements alone, in a full
// handshake, then finds which of the suites Go lacks the server accepts.
func (p *Prober) enumerateSuites12(ctx context.Context, t Target) []SuiteResult {
	suites := allSuites12()
	out := make([]SuiteResult, len(suites), len(suites)+len(rawSuites12))
	p.parallel(ctx, len(suites), func(i int) {
		s := suites[i]
		h := p.handshake(ctx, t, handshakeSpec{
			minVersion: tls.VersionTLS12, maxVersion: tls.VersionTLS12, suites: []uint16{s.ID},
		})
		ok := h.err == nil || h.certRequested
		out[i] = SuiteResult{Name: s.Name, ID: s.ID, Insecure: s.Insecure, Accepted: ok, Evidence: "handshake", Unknown: !ok && unanswered(h.err)}
	})
	for i, s := range suites {
		if out[i].Name == "" { // never started: ctx ended first
			out[i] = SuiteResult{Name: s.Name, ID: s.ID, Insecure: s.Insecure, Evidence: "handshake", Unknown: true}
		}
	}
	accepted, unknown := p.eliminateRawSuites(ctx, t)
	for _, s := range rawSuites12 {
		out = append(out, SuiteResult{
			Name: s.name, ID: s.id, Insecure: classify(s.name).insecure(),
			Accepted: accepted[s.id], Unknown: unknown[s.id], Evidence: "server-hello",
		})
	}
	return out
}

// eliminateRawSuites finds the raw suites a server accepts at TLS 1.2 by
// elimination, as sslscan and testssl.sh do: offer a group, note the suite
// the ServerHello names, offer the group again without it, until the server
// refuses. That costs one connection per accepted suite plus one per group,
// instead of one per suite, which matters for servers that fork per
// connection (PostgreSQL). The groups run in parallel.
func (p *Prober) eliminateRawSuites(ctx context.Context, t Target) (accepted, unknown map[uint16]bool) {
	n := p.opts.HandshakeConcurrency
	groups := make([][]uint16, n)
	for i, s := range rawSuites12 {
		groups[i%n] = append(groups[i%n], s.id)
	}
	found := make([][]uint16, n)
	// left holds each group's suites still offered when its probing stopped
	// without an answer: those were neither seen accepted nor refused.
	left := make([][]uint16, n)
	copy(left, groups) // a group never started is unknown as a whole
	p.parallel(ctx, n, func(g int) {
		offer := groups[g]
		defer func() { left[g] = offer }()
		for len(offer) > 0 {
			reply, err := p.rawHello(ctx, t, tls.VersionTLS12, offer)
			if unanswered(err) {
				return
			}
			if err != nil || reply.version != tls.VersionTLS12 || !slices.Contains(offer, reply.suite) {
				offer = nil // refused: none of the rest is accepted
				return
			}
			found[g] = append(found[g], reply.suite)
			offer = slices.DeleteFunc(slices.Clone(offer), func(id uint16) bool { return id == reply.suite })
		}
	})
	accepted, unknown = map[uint16]bool{}, map[uint16]bool{}
	for g := range n {
		for _, id := range found[g] {
			accepted[id] = true
		}
		for _, id := range left[g] {
			unknown[id] = true
		}
	}
	return accepted, unknown
}

// suiteName names a suite from either table, or its number.
func suiteName(id uint16) string {
	for _, s := range rawSuites12 {
		if s.id == id {
			return s.name
		}
	}
	return tls.CipherSuiteName(id) // "0x%04X" for unknown IDs
}

// parallel runs fn(0..n-1) with at most HandshakeConcurrency at a time.
func (p *Prober) parallel(ctx context.Context, n int, fn func(i int)) {
	sem := make(chan struct{}, p.opts.HandshakeConcurrency)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// clientAuthMode classifies the server's client-certificate policy from the
// handshakes made. In TLS 1.2 a server that requires a certificate aborts the
// handshake; in TLS 1.3 the client finishes first and the rejection arrives as
// an alert on the first read, which probeRequiredTLS13 looks for.
func clientAuthMode(hs []handshakeResult, tls13Required bool) string {
	requested, failedAfterRequest := false, false
	for _, h := range hs {
		if !h.certRequested {
			continue
		}
		requested = true
		if h.err != nil {
			failedAfterRequest = true
		}
	}
	switch {
	case !requested:
		return "none"
	case failedAfterRequest || tls13Required:
		return "required"
	default:
		return "requested"
	}
}

// probeRequiredTLS13 reads briefly from a TLS 1.3 connection on which the
// server asked for a client certificate: a server that requires one sends
// certificate_required (or bad_certificate) right after our Finished.
func probeRequiredTLS13(conn *tls.Conn, wait time.Duration) bool {
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	var b [1]byte
	_, err := conn.Read(b[:])
	return isRemoteError(err)
}

// isRemoteError reports a TLS alert received from the peer; crypto/tls wraps
// those in a *net.OpError with Op "remote error" (crypto/tls/conn.go).
func isRemoteError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

// isPreTLS reports whether err happened before any TLS byte was exchanged.
func isPreTLS(err error) bool { return errors.Is(err, errPreTLS) }

// chainOf returns the peer chain of the first successful handshake.
func chainOf(hs ...handshakeResult) []*x509.Certificate {
	for _, h := range hs {
		if h.err == nil && len(h.state.PeerCertificates) > 0 {
			return h.state.PeerCertificates
		}
	}
	return nil
}
