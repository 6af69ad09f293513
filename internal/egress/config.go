// Package egress is budnet's egress gateway: a forward proxy for HTTP CONNECT
// and absolute-form plain HTTP that lets each workload reach only the external
// hosts its allowlist names, and never a private, metadata or cluster address.
// The decision parts live in subpackages (allowlist, guard, identity, verdict);
// this package holds the proxy, its limits, audit log, metrics and reloads.
package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"time"

	"github.com/budnet/budnet/internal/egress/allowlist"
	"github.com/budnet/budnet/internal/egress/dnscache"
	"github.com/budnet/budnet/internal/egress/guard"
	"github.com/budnet/budnet/internal/egress/identity"
	"github.com/budnet/budnet/internal/egress/verdict"
)

// Config holds the proxy's limits. Zero values are replaced by Defaults.
type Config struct {
	HeaderTimeout       time.Duration // whole request head must arrive within this (slowloris)
	IdleTimeout         time.Duration // keep-alive wait between requests; tunnel with no bytes either way
	DialTimeout         time.Duration // resolve plus connect
	DrainTimeout        time.Duration // on shutdown, how long established tunnels may finish
	MaxHeaderBytes      int           // request line plus headers
	MaxConnections      int           // concurrent client connections of any kind; beyond it new ones wait in the listen backlog
	MaxConnsPerAddress  int           // concurrent client connections from one IP address, counted before the caller is identified
	MaxTunnels          int           // concurrent CONNECT tunnels, all sources
	MaxTunnelsPerSource int           // concurrent CONNECT tunnels per source workload (or IP if unidentified)
	Relay               RelayMode     // how tunnel bytes move between the two sockets; "" is RelayCopy
	CopyBuffers         int           // RelayCopy: buffers of CopyBufferSize busy tunnels may hold at once (0: one per CPU the gateway may use); a burst finding none splices
}

// RelayMode is how a tunnel's bytes move between the client's and the
// upstream's sockets. Either way a tunnel holds nothing while it is idle: a
// pipe or buffer is taken when the source is readable and given back when it
// has nothing more to read. docs/performance.md ("Splice or copy") has the
// measurements behind the choice.
type RelayMode string

const (
	// RelayCopy, the default, reads into a pooled CopyBufferSize buffer and
	// writes it out while a buffer is free, and splices when every buffer is
	// held. With one buffer per CPU the gateway may use, the first busy
	// tunnels copy (measured on loopback: 5 to 16% more throughput for one
	// busy tunnel than splice, for about 40% more gateway CPU per byte) and
	// the rest splice, which costs least CPU when there are more busy tunnels
	// than CPUs to copy for them.
	RelayCopy RelayMode = "copy"
	// RelaySplice always moves bytes with splice(2) through a pooled pipe,
	// never through user space: the least gateway CPU per byte.
	RelaySplice RelayMode = "splice"
)

// Off Linux, and between TLS connections, tunnels always copy through the
// portable relay's 32 KiB buffers.

// CopyBufferSize is one RelayCopy buffer: what a busy socket holds is moved
// in one read. Against 32 KiB buffers, 512 KiB halves the gateway's CPU per
// byte and is what lets a copy beat splice at all (docs/performance.md).
const CopyBufferSize = 512 << 10

// Defaults returns the production limits.
func Defaults() Config {
	return Config{
		HeaderTimeout:       10 * time.Second,
		IdleTimeout:         5 * time.Minute,
		DialTimeout:         10 * time.Second,
		DrainTimeout:        30 * time.Second,
		MaxHeaderBytes:      16 << 10,
		MaxConnections:      20000,
		MaxConnsPerAddress:  2000,
		MaxTunnels:          10000,
		MaxTunnelsPerSource: 2000,
		Relay:               RelayCopy,
	}
}

// withDefaults fills zero fields from Defaults.
func (c Config) withDefaults() Config {
	d := Defaults()
	if c.HeaderTimeout == 0 {
		c.HeaderTimeout = d.HeaderTimeout
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = d.DrainTimeout
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if c.MaxTunnels == 0 {
		c.MaxTunnels = d.MaxTunnels
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = max(d.MaxConnections, c.MaxTunnels)
	}
	if c.MaxTunnelsPerSource == 0 {
		c.MaxTunnelsPerSource = d.MaxTunnelsPerSource
	}
	if c.MaxConnsPerAddress == 0 {
		c.MaxConnsPerAddress = min(max(d.MaxConnsPerAddress, c.MaxTunnelsPerSource), c.MaxConnections)
	}
	if c.Relay == "" {
		c.Relay = d.Relay
	}
	if c.CopyBuffers == 0 {
		c.CopyBuffers = runtime.GOMAXPROCS(0) // one per CPU the gateway may use, as Go counts them (cgroup limits included)
	}
	return c
}

// Validate reports every invalid limit at once.
func (c Config) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"header timeout", c.HeaderTimeout}, {"idle timeout", c.IdleTimeout}, {"dial timeout", c.DialTimeout}, {"drain timeout", c.DrainTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s must not be negative, got %s", d.name, d.v))
		}
	}
	if c.MaxHeaderBytes < 0 || (c.MaxHeaderBytes > 0 && c.MaxHeaderBytes < 512) {
		errs = append(errs, fmt.Errorf("max header bytes must be at least 512, got %d", c.MaxHeaderBytes))
	}
	if c.MaxTunnels < 0 || c.MaxTunnelsPerSource < 0 || c.MaxConnections < 0 || c.MaxConnsPerAddress < 0 {
		errs = append(errs, errors.New("connection and tunnel limits must not be negative"))
	}
	if c.MaxConnections > 0 && c.MaxConnsPerAddress > c.MaxConnections {
		errs = append(errs, fmt.Errorf("per-address connection limit %d exceeds connection limit %d", c.MaxConnsPerAddress, c.MaxConnections))
	}
	if c.MaxConnections > 0 && c.MaxTunnels > c.MaxConnections {
		errs = append(errs, fmt.Errorf("tunnel limit %d exceeds connection limit %d: every tunnel is a connection", c.MaxTunnels, c.MaxConnections))
	}
	switch c.Relay {
	case "", RelayCopy, RelaySplice:
	default:
		errs = append(errs, fmt.Errorf("relay must be %q or %q, got %q", RelayCopy, RelaySplice, c.Relay))
	}
	if c.CopyBuffers < 0 {
		errs = append(errs, fmt.Errorf("copy buffers must not be negative, got %d", c.CopyBuffers))
	}
	if c.MaxTunnels > 0 && c.MaxTunnelsPerSource > c.MaxTunnels {
		errs = append(errs, fmt.Errorf("per-source tunnel limit %d exceeds overall limit %d", c.MaxTunnelsPerSource, c.MaxTunnels))
	}
	return errors.Join(errs...)
}

// Resolver looks up a host's addresses; *net.Resolver implements it. Tests
// inject their own so public-looking names can point at loopback.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// CachedResolver is a Resolver that can also answer from memory without
// blocking; dnscache.Cache implements it. The gateway asks Cached first on
// every request, so a cache hit costs no context and no timer, and still
// goes through the address guard like any other answer.
type CachedResolver interface {
	Resolver
	// Cached returns a fresh answer for host, which the caller must not
	// modify, or false when a lookup is needed.
	Cached(network, host string) ([]netip.Addr, bool)
}

// Dialer opens upstream connections; *net.Dialer implements it.
type Dialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

var (
	_ Resolver       = (*net.Resolver)(nil)
	_ CachedResolver = (*dnscache.Cache)(nil)
	_ Dialer         = (*net.Dialer)(nil)
)

// Deps are the server's collaborators. Logger and Audit (nil) default to discarding;
// Metrics to a no-op; Resolver and Dialer to the standard library's.
type Deps struct {
	Logger   *slog.Logger // operational messages
	Audit    io.Writer    // one JSON line per connection or plain-HTTP request, one Write each
	Metrics  Metrics
	Resolver Resolver
	Dialer   Dialer
	Pods     identity.PodLookup // nil without --kube
}

// PolicySpec is the model-derived, reloadable part of the gateway's behaviour.
type PolicySpec struct {
	Mode          verdict.Mode
	DefaultAllow  bool // what an unidentified caller gets; deny unless the model says allow
	Rules         []allowlist.Rule
	Denied        []guard.Range // nil means guard.DefaultDenied()
	ClusterRanges []netip.Prefix
	Allowed       []netip.Prefix // explicit exemptions from Denied
	Identity      identity.Config
}

// Policy is one compiled, immutable snapshot of PolicySpec. The server swaps
// whole snapshots atomically, so a request sees one model, never a mix.
type Policy struct {
	Mode         verdict.Mode
	DefaultAllow bool
	Allowlist    *allowlist.Policy
	Guard        *guard.Guard
	Identity     *identity.Identifier
}

// NewPolicy compiles spec, reporting every problem at once.
func NewPolicy(spec PolicySpec) (*Policy, error) {
	denied := spec.Denied
	if denied == nil {
		denied = guard.DefaultDenied()
	}
	for _, p := range spec.ClusterRanges {
		denied = append(denied[:len(denied):len(denied)], guard.Range{Prefix: p, Name: "cluster"})
	}
	al, errA := allowlist.Compile(spec.Rules)
	g, errG := guard.New(guard.Config{Denied: denied, Allowed: spec.Allowed})
	id, errI := identity.New(spec.Identity)
	if err := errors.Join(errA, errG, errI); err != nil {
		return nil, fmt.Errorf("egress policy: %w", err)
	}
	return &Policy{Mode: spec.Mode, DefaultAllow: spec.DefaultAllow, Allowlist: al, Guard: g, Identity: id}, nil
}
