package egress

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// forwarder serves plain HTTP requests in absolute form on one client
// connection. It keeps at most one upstream connection, reused while the next
// request is authorised to the same host and checked address: clients of a
// forward proxy overwhelmingly send a keep-alive connection's requests to one
// origin, and a per-connection upstream needs no shared pool or lock.
type forwarder struct {
	s      *Server
	client net.Conn
	br     *bufio.Reader
	cw     *bufio.Writer

	up     net.Conn
	upBR   *bufio.Reader
	upBW   *bufio.Writer
	upAddr netip.AddrPort
	upHost string
	// upUntil is the upstream deadline last set (zero for a fresh
	// connection); exchange renews it once it has aged by a sixteenth of
	// IdleTimeout rather than moving a timer on every request.
	upUntil time.Time

	memo hostMemo
	out  http.Request // the upstream request, reused (with its Header map and URL) by buildOutgoingInto

	// target, targetURL and authority: the last absolute-form target
	// parsed, its URL (read only once parsed) and authority. Requests on a
	// keep-alive connection often repeat it, and parsing allocated a URL
	// each time.
	target    string
	targetURL *url.URL
	authority string

	// cu and cc count the bytes written upstream and to the client. Kept
	// here because net/http is handed them as an io.Writer, which would
	// otherwise put two new counters on the heap per request.
	cu, cc countWriter

	// reqHead and reqKeys: appendRequestHead's buffer and scratch, reused.
	reqHead []byte
	reqKeys []string
}

// hostMemo is the forwarder's last host decision: a keep-alive connection's
// requests nearly always name one authority, and parsing it, matching the
// Host header and walking the allowlist were a tenth of the gateway's CPU per
// request. It holds only what depends on the policy snapshot, the caller's
// identity and the authority and Host header as written, and is used only
// while all of them are unchanged: a reload swaps the snapshot pointer, so
// the next request decides afresh. Resolution and the address guard are not
// in it (decideAddress runs on every request).
type hostMemo struct {
	pol        *Policy
	id         identity.Identity
	authority  string
	hostHeader string
	hasHost    bool
	agrees     bool // hostHeaderAgrees
	hd         hostDecision
	// counters: the metrics of this host decision's requests, whose
	// labels (source, destination) the memo's key fixes.
	counters labelCounters
}

// decideHost returns the host decision for this request, from the memo when
// the request names what the last one named.
func (f *forwarder) decideHost(pol *Policy, id identity.Identity, authority string, head *requestHead) *hostMemo {
	m := &f.memo
	if m.pol == pol && m.id == id && m.authority == authority && m.hasHost == head.HostHeader && m.hostHeader == head.Host {
		return m
	}
	*m = hostMemo{pol: pol, id: id, authority: authority, hostHeader: head.Host, hasHost: head.HostHeader,
		agrees: hostHeaderAgrees(head, authority, 80)}
	if m.agrees {
		m.hd = decideHost(pol, id, authority)
	}
	return m
}

func (f *forwarder) closeUpstream() {
	if f.up != nil {
		f.up.Close()
		f.up = nil
	}
}

// hopHeaders are connection-scoped (RFC 9110 section 7.6.1) and never forwarded.
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// notForwarded reports whether a request header (canonical key, as
// readHeader stores them) stays at the gateway: the hop-by-hop headers, Host
// (the request URI's authority is sent instead) and Content-Length (set from
// the checked framing). A switch rather than copying every header and then
// deleting these from the copy: the copy-and-delete, with an append to the
// list, cost allocations on every forwarded request.
func notForwarded(key string) bool {
	switch key {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
		"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Host", "Content-Length":
		return true
	}
	return false
}

// forward handles one plain HTTP request and reports whether the client
// connection may carry another.
func (f *forwarder) forward(ctx context.Context, head *requestHead, pol *Policy, rec *record) bool {
	s := f.s
	u, authority, reason := f.parseTarget(head)
	if reason != verdict.ReasonNone {
		rec.requested, rec.decision, rec.reason = truncate(head.Target), verdict.Deny, reason
		s.reject(f.client, rec)
		return false
	}
	memo := f.decideHost(pol, rec.id, authority, head)
	if !memo.agrees {
		rec.requested, rec.decision, rec.reason = authority, verdict.Deny, verdict.ReasonHostMismatch
		rec.detail = "Host header " + truncate(head.Host) + " differs from request URI"
		s.reject(f.client, rec)
		return false
	}
	out, err := buildOutgoingInto(&f.out, head, u, f.br)
	if err != nil {
		rec.requested, rec.decision, rec.reason, rec.detail = authority, verdict.Deny, verdict.ReasonBadRequest, err.Error()
		s.reject(f.client, rec)
		return false
	}
	addr, ok := s.recordDecision(rec, authority, decideAddress(ctx, pol, s.resolver, s.cfg.DialTimeout, &memo.hd))
	if !ok {
		s.reject(f.client, rec)
		return false
	}
	reused, err := f.connect(ctx, addr, rec.target)
	if err != nil {
		rec.decision, rec.reason, rec.detail = verdict.Deny, verdict.ReasonDialFailed, err.Error()
		s.reject(f.client, rec)
		return false
	}
	keep, err := f.exchange(out, rec)
	if err != nil && reused && rec.status == 0 && out.Body == nil && idempotent(out.Method) && !errors.Is(err, errUnsolicitedSwitch) {
		// The origin closed the idle connection we kept; a body-less request
		// that never reached it is safe to send once more on a fresh one.
		f.closeUpstream()
		if _, err = f.connect(ctx, addr, rec.target); err == nil {
			keep, err = f.exchange(out, rec)
		}
	}
	if err != nil {
		rec.detail = err.Error()
		f.closeUpstream()
		if rec.status == 0 {
			rec.decision, rec.reason = verdict.Deny, verdict.ReasonDialFailed
			if errors.Is(err, errUnsolicitedSwitch) {
				rec.reason = verdict.ReasonUpstreamProtocol
			}
			s.reject(f.client, rec)
			return false
		}
	}
	rec.counters = memo.counters.countersFor(s.metrics, rec)
	s.emit(rec)
	return keep && err == nil && !out.Close && !wantsClose(head.Header)
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func wantsClose(h http.Header) bool {
	for _, k := range []string{"Connection", "Proxy-Connection"} {
		for _, v := range h.Values(k) {
			for tok := range strings.SplitSeq(v, ",") {
				if strings.EqualFold(strings.TrimSpace(tok), "close") {
					return true
				}
			}
		}
	}
	return false
}

func (f *forwarder) connect(ctx context.Context, addr netip.AddrPort, target string) (reused bool, err error) {
	if f.up != nil && f.upAddr == addr && f.upHost == target {
		return true, nil
	}
	f.closeUpstream()
	c, err := f.s.dial(ctx, addr)
	if err != nil {
		return false, err
	}
	f.up, f.upAddr, f.upHost, f.upUntil = c, addr, target, time.Time{}
	if f.upBR == nil {
		f.upBR, f.upBW = bufio.NewReaderSize(c, 4096), bufio.NewWriterSize(c, 4096)
	} else {
		f.upBR.Reset(c)
		f.upBW.Reset(c)
	}
	return false, nil
}

// errUnsolicitedSwitch: the origin answered 101 though the gateway never
// forwards Upgrade. The origin got and acted on the request, so it is never
// sent again.
var errUnsolicitedSwitch = errors.New("upstream switched protocols without an Upgrade request")

// exchange sends out upstream and relays the response. It returns whether both
// sides may stay open.
func (f *forwarder) exchange(out *http.Request, rec *record) (bool, error) {
	cu := &f.cu
	*cu = countWriter{w: f.upBW}
	// No reset afterwards: nothing reads or writes the upstream between
	// exchanges, and each exchange renews the deadline first when it has
	// aged (so each exchange has between 15/16 and all of IdleTimeout).
	// rec.start (the request's head was read microseconds ago) stands for
	// now: one clock read fewer per request.
	idle := f.s.cfg.IdleTimeout
	if now := rec.start; f.upUntil.IsZero() || now.Add(idle).Sub(f.upUntil) > idle/16 {
		f.upUntil = now.Add(idle)
		_ = f.up.SetDeadline(f.upUntil)
	}
	var err error
	if head, keys, ok := appendRequestHead(f.reqHead[:0], out, f.reqKeys); ok {
		f.reqHead, f.reqKeys = head, keys
		_, err = cu.Write(head)
	} else {
		err = out.Write(cu)
	}
	if err != nil {
		return false, fmt.Errorf("write request upstream: %w", err)
	}
	if err := f.upBW.Flush(); err != nil {
		return false, fmt.Errorf("write request upstream: %w", err)
	}
	rec.sent = cu.n
	if f.cw == nil {
		f.cw = bufio.NewWriterSize(f.client, 4096)
	}
	cc := &f.cc
	*cc = countWriter{w: f.cw}
	for {
		resp, err := http.ReadResponse(f.upBR, out)
		if err != nil {
			return false, fmt.Errorf("read response: %w", err)
		}
		if resp.StatusCode == http.StatusSwitchingProtocols {
			resp.Body.Close()
			return false, errUnsolicitedSwitch
		}
		for _, h := range hopHeaders {
			delete(resp.Header, h) // canonical, as ReadResponse stores keys: Del would canonicalise each again
		}
		rec.status = resp.StatusCode
		err = resp.Write(cc)
		resp.Body.Close()
		if err == nil {
			err = f.cw.Flush()
		}
		rec.received = cc.n
		if err != nil {
			return false, fmt.Errorf("write response to client: %w", err)
		}
		if resp.StatusCode >= 200 {
			return !resp.Close && !out.Close, nil
		}
	}
}

// noUserAgent is the User-Agent value that makes Request.Write send none.
// Shared by every outgoing request: net/http only reads header values.
var noUserAgent = []string{""}

// parseTarget is parseAbsoluteTarget, reusing the last result while the
// target string is the same (the result depends on nothing else, and the
// URL is never modified: buildOutgoingInto copies what it needs).
func (f *forwarder) parseTarget(head *requestHead) (*url.URL, string, verdict.Reason) {
	if f.targetURL != nil && head.Target == f.target {
		return f.targetURL, f.authority, verdict.ReasonNone
	}
	u, authority, reason := parseAbsoluteTarget(head)
	if reason == verdict.ReasonNone {
		f.target, f.targetURL, f.authority = head.Target, u, authority
	}
	return u, authority, reason
}

// parseAbsoluteTarget accepts only http:// absolute-form targets (RFC 9112
// section 3.2.2); https:// belongs in CONNECT, origin-form is not a proxy request.
func parseAbsoluteTarget(head *requestHead) (*url.URL, string, verdict.Reason) {
	u, err := url.ParseRequestURI(head.Target)
	if err != nil || !strings.EqualFold(u.Scheme, "http") || u.Host == "" || u.User != nil || u.Opaque != "" {
		if head.Method == "CONNECT" {
			return nil, "", verdict.ReasonBadRequest
		}
		if err == nil && u.Host == "" {
			return nil, "", verdict.ReasonMethodNotAllowed
		}
		return nil, "", verdict.ReasonBadRequest
	}
	authority := u.Host
	if u.Port() == "" {
		authority = net.JoinHostPort(strings.Trim(u.Host, "[]"), "80")
	}
	return u, authority, verdict.ReasonNone
}

// buildOutgoing turns the client's head into the upstream request in origin
// form, with hop-by-hop headers removed and body framing checked: a request
// with both Content-Length and Transfer-Encoding, several differing lengths or
// a coding other than chunked is refused (request smuggling, RFC 9112 6.3).
func buildOutgoing(head *requestHead, u *url.URL, br *bufio.Reader) (*http.Request, error) {
	return buildOutgoingInto(&http.Request{}, head, u, br)
}

// buildOutgoingInto is buildOutgoing overwriting out, whose Header map and URL
// it clears and reuses: the forwarder builds every request of a keep-alive
// connection in one http.Request, which net/http is done with once the
// response has been relayed.
func buildOutgoingInto(out *http.Request, head *requestHead, u *url.URL, br *bufio.Reader) (*http.Request, error) {
	h := head.Header
	te := h.Values("Transfer-Encoding")
	cls := h.Values("Content-Length")
	hdr, ou := out.Header, out.URL
	if hdr == nil {
		hdr = make(http.Header, len(h))
	}
	clear(hdr)
	if ou == nil {
		ou = &url.URL{}
	}
	*ou = url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	*out = http.Request{
		Method: head.Method, URL: ou,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Host: u.Host, Header: hdr,
	}
	if out.URL.Path == "" {
		out.URL.Path = "/"
	}
	for _, c := range h.Values("Connection") {
		for name := range strings.SplitSeq(c, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for k, v := range h {
		if !notForwarded(k) {
			out.Header[k] = v
		}
	}
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = noUserAgent // stop Request.Write adding Go's default
	}
	switch {
	case len(te) > 0 && len(cls) > 0:
		return nil, errors.New("both Transfer-Encoding and Content-Length")
	case len(te) > 0:
		if len(te) != 1 || !strings.EqualFold(strings.TrimSpace(te[0]), "chunked") {
			return nil, fmt.Errorf("unsupported transfer coding %q", strings.Join(te, ","))
		}
		out.TransferEncoding, out.ContentLength = []string{"chunked"}, -1
		out.Body = &chunkedBody{r: httputil.NewChunkedReader(br), tp: textproto.NewReader(br)}
	case len(cls) > 0:
		n, err := parseContentLength(cls)
		if err != nil {
			return nil, err
		}
		out.ContentLength = n
		if n > 0 {
			out.Body = io.NopCloser(io.LimitReader(br, n))
		}
	}
	if head.Major == 1 && head.Minor == 0 && !strings.EqualFold(h.Get("Proxy-Connection"), "keep-alive") {
		out.Close = true
	}
	return out, nil
}

func parseContentLength(vals []string) (int64, error) {
	var n int64 = -1
	for _, v := range vals {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			m, err := strconv.ParseInt(part, 10, 64)
			if err != nil || m < 0 || (part != "0" && part[0] == '0') || part[0] == '+' {
				return 0, fmt.Errorf("bad Content-Length %q", v)
			}
			if n >= 0 && m != n {
				return 0, errors.New("conflicting Content-Length values")
			}
			n = m
		}
	}
	return n, nil
}

// chunkedBody decodes a chunked request body and, at its end, consumes the
// trailer section so the next request on the connection starts cleanly.
type chunkedBody struct {
	r  io.Reader
	tp *textproto.Reader
}

func (c *chunkedBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if errors.Is(err, io.EOF) {
		if _, terr := c.tp.ReadMIMEHeader(); terr != nil {
			return n, fmt.Errorf("read chunked trailer: %w", terr)
		}
	}
	return n, err
}

func (c *chunkedBody) Close() error { return nil }

// countWriter counts what passes into a bufio.Writer. It implements
// io.ByteWriter and io.StringWriter on purpose: http.Request.Write wraps any
// writer lacking WriteByte in a fresh 4 KiB bufio.Writer (one allocation and
// one extra copy per forwarded request; it led the allocation profile).
type countWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (c *countWriter) WriteString(s string) (int, error) {
	n, err := c.w.WriteString(s)
	c.n += int64(n)
	return n, err
}

func (c *countWriter) WriteByte(b byte) error {
	err := c.w.WriteByte(b)
	if err == nil {
		c.n++
	}
	return err
}
