package egress

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// Server is the egress proxy. Create it with NewServer, run it with Serve.
type Server struct {
	cfg      Config
	log      *slog.Logger
	audit    *auditLog // nil: no audit lines
	metrics  Metrics
	resolver Resolver
	dialer   Dialer
	pods     identity.PodLookup
	policy   atomic.Pointer[Policy]
	relay    mover         // pipes (nil off Linux) and RelayCopy's buffers shared by all tunnels
	slots    chan struct{} // one per open client connection, up to MaxConnections
	atLimit  bool          // Serve's last takeSlot had to wait (Serve's goroutine only)

	mu        sync.Mutex
	conns     map[*trackedConn]struct{}
	perSource map[string]int
	perAddr   map[netip.Addr]int // open connections per caller IP
	tunnels   int
	draining  atomic.Bool
	wg        sync.WaitGroup
}

type trackedConn struct {
	net.Conn
	addr  netip.Addr  // the caller's address, unmapped; set before serveConn starts
	idle  atomic.Bool // waiting for a keep-alive request: safe to close on drain
	state atomic.Int32
	since atomic.Int64 // when it began waiting, in Unix nanoseconds
}

// Connection states for reclaiming at the connection limit.
const (
	connBusy      int32 = iota // handshaking is waiting too; busy is anything past a request head
	connWaiting                // waiting for a request head (first or keep-alive): reclaimable
	connReclaimed              // reclaimed by Serve at the limit; its read deadline is in the past
)

// errReclaimed ends a connection whose wait for a request head was cut short
// because the gateway was at its connection limit.
var errReclaimed = errors.New("closed while waiting for a request head: the gateway is at its connection limit")

// beginWait marks c reclaimable. Call it after setting the read deadline.
func (c *trackedConn) beginWait() { c.beginWaitAt(time.Now()) }

// beginWaitAt is beginWait for a caller that has just read the clock.
func (c *trackedConn) beginWaitAt(now time.Time) {
	c.since.Store(now.UnixNano())
	c.state.Store(connWaiting)
}

// endWait marks c busy; false means it was reclaimed meanwhile and must close.
func (c *trackedConn) endWait() bool { return c.state.CompareAndSwap(connWaiting, connBusy) }

// reclaimed reports whether Serve reclaimed c. A goroutine that moves c's
// read deadline while c waits checks it afterwards, so it cannot undo the
// past deadline reclaim set.
func (c *trackedConn) reclaimed() bool { return c.state.Load() == connReclaimed }

// reclaim cuts c's wait short if c is still waiting: its blocked read returns
// a timeout at once, and its goroutine answers 408 and frees the slot.
func (c *trackedConn) reclaim() bool {
	if !c.state.CompareAndSwap(connWaiting, connReclaimed) {
		return false
	}
	_ = c.SetReadDeadline(time.Unix(1, 0))
	return true
}

// NewServer validates cfg and builds a server enforcing policy.
func NewServer(cfg Config, policy *Policy, deps Deps) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("egress config: %w", err)
	}
	if policy == nil {
		return nil, errors.New("egress: nil policy")
	}
	s := &Server{
		cfg: cfg, log: deps.Logger, metrics: deps.Metrics,
		resolver: deps.Resolver, dialer: deps.Dialer, pods: deps.Pods,
		conns: map[*trackedConn]struct{}{}, perSource: map[string]int{}, perAddr: map[netip.Addr]int{}, relay: mover{pipes: newPipePool()},
		slots: make(chan struct{}, cfg.MaxConnections),
	}
	if cfg.Relay == RelayCopy {
		s.relay.bufs = newBufPool(cfg.CopyBuffers)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if deps.Audit != nil {
		s.audit = &auditLog{w: deps.Audit}
	}
	if s.metrics == nil {
		s.metrics = NopMetrics{}
	}
	s.relay.copied, s.relay.spliced = s.metrics.RelayCounters()
	if s.resolver == nil {
		s.resolver = net.DefaultResolver
	}
	if s.dialer == nil {
		s.dialer = &net.Dialer{KeepAlive: 30 * time.Second}
	}
	s.metrics.ConnectionLimit(cfg.MaxConnections)
	s.policy.Store(policy)
	return s, nil
}

// Policy returns the snapshot in force.
func (s *Server) Policy() *Policy { return s.policy.Load() }

// SetPolicy swaps in a new snapshot. Requests already past their decision and
// established tunnels are unaffected; every later request uses p.
func (s *Server) SetPolicy(p *Policy) {
	if p != nil {
		s.policy.Store(p)
	}
}

// Draining reports whether Serve is shutting down.
func (s *Server) Draining() bool { return s.draining.Load() }

// Serve accepts connections on ln until ctx ends, then stops accepting, closes
// idle keep-alive connections, lets tunnels and in-flight requests finish for up
// to DrainTimeout, closes what is left and returns. ln may be a TLS listener
// (mTLS identification); Serve closes it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	connCtx := context.WithoutCancel(ctx)
	var acceptErr error
	var backoff time.Duration
	for {
		// Take a connection slot before accepting: at the limit, new
		// connections wait in the kernel's listen backlog rather than each
		// costing a goroutine and a buffer here.
		if !s.takeSlot(ctx) {
			break
		}
		c, err := ln.Accept()
		if err != nil {
			<-s.slots
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) {
				// Out of descriptors or a transient error: back off instead of spinning.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("egress accept failed; backing off", "err", err, "backoff", backoff)
				time.Sleep(backoff)
				continue
			}
			acceptErr = fmt.Errorf("egress accept: %w", err)
			break
		}
		backoff = 0
		tc := &trackedConn{Conn: c}
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			tc.addr = ta.AddrPort().Addr().Unmap()
		}
		s.mu.Lock()
		s.conns[tc] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serveConn(connCtx, tc)
	}
	s.drain()
	return acceptErr
}

// reclaimPoll is how often Serve, blocked at the connection limit with
// nothing to reclaim, looks again (a busy connection may have gone idle).
const reclaimPoll = 100 * time.Millisecond

// takeSlot waits for a free connection slot; it returns false when ctx ends
// first. At the limit it reclaims connections that are only waiting for a
// request head (see reclaimWaiting), so idle connections, however many
// addresses they come from, cannot keep a new caller in the listen backlog
// for a whole header timeout. Only Serve's goroutine calls it, so atLimit
// needs no lock: it keeps a saturated gateway to one warning per episode.
func (s *Server) takeSlot(ctx context.Context) bool {
	select {
	case s.slots <- struct{}{}:
		s.atLimit = false
		return true
	default:
	}
	if !s.atLimit {
		s.atLimit = true
		s.log.Warn("egress connection limit reached; reclaiming connections that send no request, others wait in the listen backlog", "max_connections", cap(s.slots))
	}
	for {
		if s.reclaimWaiting() == 0 {
			t := time.NewTimer(reclaimPoll)
			select {
			case s.slots <- struct{}{}:
				t.Stop()
				return true
			case <-ctx.Done():
				t.Stop()
				return false
			case <-t.C:
				continue
			}
		}
		select {
		case s.slots <- struct{}{}:
			return true
		case <-ctx.Done():
			return false
		}
	}
}

// reclaimWaiting cuts short the wait of connections that have not sent a
// request head: from the address holding the most such connections, its
// oldest sixteenth (at least one). That address is the flood's, never a
// fresh caller's single connection; a connection past its request head (a
// request in flight, a tunnel) is never touched. The reclaimed get 408
// header_timeout, which is what their header timeout would have given them
// later. It returns how many it reclaimed.
func (s *Server) reclaimWaiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	byAddr := map[netip.Addr][]*trackedConn{}
	var top netip.Addr
	for c := range s.conns {
		if c.state.Load() != connWaiting {
			continue
		}
		list := append(byAddr[c.addr], c)
		byAddr[c.addr] = list
		if n := len(byAddr[top]); len(list) > n || len(list) == n && c.addr.Less(top) {
			top = c.addr
		}
	}
	victims := byAddr[top]
	slices.SortFunc(victims, func(a, b *trackedConn) int { return cmp.Compare(a.since.Load(), b.since.Load()) })
	n := 0
	for _, c := range victims[:max(len(victims)/16, min(len(victims), 1))] {
		if c.reclaim() {
			n++
		}
	}
	return n
}

func (s *Server) drain() {
	s.draining.Store(true)
	s.mu.Lock()
	for c := range s.conns {
		if c.idle.Load() {
			c.Close()
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	t := time.NewTimer(s.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	s.mu.Lock()
	n := len(s.conns)
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.log.Warn("egress drain deadline reached; closed remaining connections", "connections", n)
	<-done
}

func (s *Server) serveConn(ctx context.Context, c *trackedConn) {
	defer s.wg.Done()
	growStack(0)
	s.metrics.ConnectionOpened()
	var remote netip.AddrPort
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		remote = ta.AddrPort()
	}
	addr := c.addr
	admitted := s.admitAddress(addr)
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		if admitted {
			if s.perAddr[addr]--; s.perAddr[addr] <= 0 {
				delete(s.perAddr, addr)
			}
		}
		s.mu.Unlock()
		c.Close()
		s.metrics.ConnectionClosed()
		<-s.slots
	}()
	if !admitted {
		s.refuseAddress(c, remote)
		return
	}
	peer, ok := s.handshake(c, remote)
	if !ok {
		return
	}
	t := s.serveRequests(ctx, c, peer)
	if t != nil {
		s.tunnel(ctx, c.Conn, t)
	}
}

// stackReserve is how much stack growStack makes room for: with it the
// goroutine's stack reaches 8 KiB, which the deepest path a connection takes
// (the net package's dial, under the decision and the request reader's
// frames) fits.
const stackReserve = 5 << 10

// growStack grows the calling goroutine's stack once, while it holds only a
// couple of frames. Without it the stack grew in the middle of net.Dial
// (runtime.newstack under net.ipToSockaddr), copying and adjusting a dozen
// frames on every CONNECT: 5% of the gateway's CPU per CONNECT, on the path
// to the 200. The goroutine's stack reached that size anyway, so this adds no
// memory to a tunnel; the collector shrinks idle stacks as before.
//
//go:noinline
func growStack(i int) byte {
	var reserve [stackReserve]byte
	reserve[i] = 1
	return reserve[(i+1)%stackReserve]
}

// admitAddress counts a new connection from addr unless addr already holds
// MaxConnsPerAddress: the limit applies before the caller is identified, so
// one address cannot take the whole connection limit with idle connections.
func (s *Server) admitAddress(addr netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.MaxConnsPerAddress > 0 && s.perAddr[addr] >= s.cfg.MaxConnsPerAddress {
		return false
	}
	s.perAddr[addr]++
	return true
}

// refuseAddress answers a connection over the per-address limit with 429 and
// an audit line, without reading from it. On a TLS listener it only closes:
// answering would first need a handshake the refused caller controls.
func (s *Server) refuseAddress(c *trackedConn, remote netip.AddrPort) {
	addr := remote.Addr().Unmap()
	rec := &record{start: time.Now(), srcAddr: remote, decision: verdict.Deny, reason: verdict.ReasonTooManyFromAddress,
		detail: fmt.Sprintf("%s already holds %d connections", addr, s.cfg.MaxConnsPerAddress)}
	rec.id = s.policy.Load().Identity.Identify(identity.Peer{Addr: addr}, s.pods)
	if _, isTLS := c.Conn.(*tls.Conn); isTLS {
		s.emit(rec)
		return
	}
	s.reject(c.Conn, rec)
}

// pendingTunnel is a CONNECT request read by serveRequests, handed over once
// the request reader and its buffer are released: an idle tunnel then holds
// no read buffer at all.
type pendingTunnel struct {
	head  *requestHead
	pol   *Policy
	rec   *record
	early []byte // bytes the client sent after the CONNECT head
}

// serveRequests reads requests until the connection ends or turns into a tunnel.
func (s *Server) serveRequests(ctx context.Context, c *trackedConn, peer peerInfo) *pendingTunnel {
	hr := getHeadReader(c.Conn, s.cfg.MaxHeaderBytes)
	defer putHeadReader(hr)
	br, lim := hr.br, hr.lim
	// The plain-HTTP state (a reused upstream request, the host decision
	// memo) only for connections that send plain HTTP: a CONNECT never
	// allocates it.
	var fw *forwarder
	defer func() {
		if fw != nil {
			fw.closeUpstream()
		}
	}()
	// Identity belongs to the connection (a pod that later takes over the
	// caller's IP cannot own an established TCP connection), so a keep-alive
	// connection is identified once, and again only when a reload swaps the
	// policy or while the caller is still unknown (the pod informer may learn
	// its IP later).
	var id identity.Identity
	var idFor *Policy
	// One head and one record per connection, reused by each request: both
	// are done with when the request's audit line is written (a CONNECT ends
	// the loop and takes them along).
	var headBuf requestHead
	var recBuf record
	// idleUntil is the read deadline in force when it is the keep-alive
	// one, else zero. Each SetReadDeadline moves a runtime timer; setting
	// three per request (idle, header, none) was 3% of the gateway's CPU per
	// plain request, so the idle deadline is renewed only once it has aged
	// by a sixteenth of IdleTimeout, and the header and cleared deadlines
	// only when a read can follow (see below).
	var idleUntil time.Time
	for first := true; ; first = false {
		headBuffered := false
		if !first {
			c.idle.Store(true)
			if s.draining.Load() {
				return nil
			}
			now := time.Now()
			if idleUntil.IsZero() || now.Add(s.cfg.IdleTimeout).Sub(idleUntil) > s.cfg.IdleTimeout/16 {
				idleUntil = now.Add(s.cfg.IdleTimeout)
				_ = c.SetReadDeadline(idleUntil)
			}
			c.beginWaitAt(now)
			if _, err := br.Peek(1); err != nil {
				if c.reclaimed() {
					s.headError(c.Conn, &record{start: time.Now(), srcAddr: peer.addrPort, id: id}, errReclaimed)
				}
				return nil
			}
			c.idle.Store(false)
			// A head already whole in the buffer is parsed without
			// reading the connection: no header deadline to set.
			headBuffered = headInBuffer(br)
		}
		if !headBuffered {
			idleUntil = time.Time{}
			_ = c.SetReadDeadline(time.Now().Add(s.cfg.HeaderTimeout))
		}
		if first {
			c.beginWait()
		}
		lim.limited, lim.remaining = true, s.cfg.MaxHeaderBytes
		head, err := readRequestHeadInto(br, &headBuf)
		lim.limited = false
		if !c.endWait() {
			// Reclaimed at the limit (even if the head made it meanwhile:
			// its read deadline is already in the past).
			head, err = nil, errReclaimed
		}
		rec := &recBuf
		*rec = record{start: time.Now(), srcAddr: peer.addrPort}
		pol := s.policy.Load()
		if pol != idFor || !id.Known() {
			id, idFor = pol.Identity.Identify(peer.Peer, s.pods), pol
		}
		rec.id = id
		if err != nil {
			s.headError(c.Conn, rec, err)
			return nil
		}
		// No deadline while a tunnel runs or a request body is read (as
		// before); a body-less request on a head from the buffer leaves
		// the idle deadline in place: nothing reads the client until the
		// next wait, which renews it.
		if !headBuffered || head.Method == "CONNECT" || mayHaveBody(head) {
			idleUntil = time.Time{}
			_ = c.SetReadDeadline(time.Time{})
		}
		rec.method = head.Method
		if head.Method == "CONNECT" {
			t := &pendingTunnel{head: head, pol: pol, rec: rec}
			if n := br.Buffered(); n > 0 {
				b, _ := br.Peek(n)
				t.early = append([]byte(nil), b...)
			}
			return t
		}
		if fw == nil {
			fw = &forwarder{s: s, client: c.Conn, br: br}
		}
		if !fw.forward(ctx, head, pol, rec) {
			return nil
		}
	}
}

// headInBuffer reports whether br holds a whole request head: an empty line
// (a line feed followed by CRLF or LF) is buffered, so readRequestHeadInto
// stops at or before it without reading the connection.
func headInBuffer(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Buffered())
	return bytes.Contains(b, []byte("\n\r\n")) || bytes.Contains(b, []byte("\n\n"))
}

// mayHaveBody reports whether a request head announces a body, which the
// forwarder then reads from the client (buildOutgoingInto frames a body only
// from these two fields).
func mayHaveBody(head *requestHead) bool {
	_, cl := head.Header["Content-Length"]
	_, te := head.Header["Transfer-Encoding"]
	return cl || te
}

type peerInfo struct {
	identity.Peer
	addrPort netip.AddrPort
}

// handshake completes TLS for an mTLS listener and collects what identity needs.
func (s *Server) handshake(c *trackedConn, remote netip.AddrPort) (peerInfo, bool) {
	p := peerInfo{addrPort: remote, Peer: identity.Peer{Addr: remote.Addr().Unmap()}}
	tc, ok := c.Conn.(*tls.Conn)
	if !ok {
		return p, true
	}
	hctx, cancel := context.WithTimeout(context.Background(), s.cfg.HeaderTimeout)
	defer cancel()
	c.beginWait() // a caller that never finishes its handshake is reclaimable too
	err := tc.HandshakeContext(hctx)
	if !c.endWait() {
		s.log.Debug("egress tls handshake cut short at the connection limit", "remote", p.addrPort)
		return p, false
	}
	if err != nil {
		s.log.Debug("egress tls handshake failed", "remote", p.addrPort, "err", err)
		return p, false
	}
	if chains := tc.ConnectionState().VerifiedChains; len(chains) > 0 {
		p.Certs = chains[0]
	}
	return p, true
}

func (s *Server) headError(c net.Conn, rec *record, err error) {
	rec.decision = verdict.Deny
	switch {
	case errors.Is(err, errHeaderTooLarge):
		rec.reason = verdict.ReasonHeaderTooLarge
	case errors.Is(err, errReclaimed), isTimeout(err):
		rec.reason = verdict.ReasonHeaderTimeout
	case errors.Is(err, io.EOF):
		return // closed before sending anything, or a bare TCP probe: nothing to audit
	default:
		rec.reason = verdict.ReasonBadRequest
	}
	rec.detail = err.Error()
	s.reject(c, rec)
}

// reject answers a refused request and closes the exchange.
func (s *Server) reject(c net.Conn, rec *record) {
	rec.status = statusFor(rec.reason)
	_ = c.SetWriteDeadline(time.Now().Add(s.cfg.HeaderTimeout))
	body := "budnet egress: " + rec.decision.String() + " (" + rec.reason.String() + ")\n"
	_, _ = io.WriteString(c, fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nX-Budnet-Egress-Reason: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		rec.status, statusText(rec.status), rec.reason, len(body), body))
	s.emit(rec)
}

// acquire reserves a tunnel slot for key, or says which limit stops it.
func (s *Server) acquire(key string) (release func(), reason verdict.Reason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.MaxTunnels > 0 && s.tunnels >= s.cfg.MaxTunnels {
		return nil, verdict.ReasonTooManyTunnels
	}
	if s.cfg.MaxTunnelsPerSource > 0 && s.perSource[key] >= s.cfg.MaxTunnelsPerSource {
		return nil, verdict.ReasonTooManyFromSource
	}
	s.tunnels++
	s.perSource[key]++
	return func() {
		s.mu.Lock()
		s.tunnels--
		if s.perSource[key]--; s.perSource[key] <= 0 {
			delete(s.perSource, key)
		}
		s.mu.Unlock()
	}, verdict.ReasonNone
}

// ActiveTunnels returns how many CONNECT tunnels are open.
func (s *Server) ActiveTunnels() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tunnels
}
