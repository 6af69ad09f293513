// Package dnscache keeps the egress gateway's name lookups for a short,
// fixed time and merges concurrent lookups of one name into one query.
//
// Without it every CONNECT and every plain-HTTP request to a new upstream
// costs a round trip to the cluster DNS before the gateway can answer. The
// cache does not weaken the address guard: the gateway checks the addresses
// on every request, cached or not, and dials exactly what it checked, so a
// cached answer is only ever a stickier answer (which also narrows DNS
// rebinding). Failed lookups are not kept. Go's resolver does not report
// record TTLs, so entries live for a fixed time that should stay well under
// the TTLs of the names allowed; Kubernetes' default CoreDNS configuration
// already caps cached answers at 30 seconds.
//
// Entries are keyed by the name exactly as asked. The gateway only asks
// absolute names (allowlist.Host.Absolute), so every spelling of one host
// shares an entry; "x" and "x." are different questions under a resolv.conf
// search list and must not share one.
package dnscache

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Resolver is what the cache wraps and implements; *net.Resolver implements it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Cache is a Resolver that remembers successful answers for TTL.
type Cache struct {
	next    Resolver
	ttl     time.Duration
	max     int
	now     func() time.Time
	mu      sync.Mutex
	entries map[key]*entry
}

type key struct{ network, host string }

// entry is an answer, or a lookup in flight until done closes.
type entry struct {
	done    chan struct{}
	addrs   []netip.Addr // read-only once done is closed
	err     error
	expires time.Time
}

// New wraps next. ttl must be positive; at most maxEntries names are kept
// (expired ones are dropped first, then arbitrary ones).
func New(next Resolver, ttl time.Duration, maxEntries int) *Cache {
	return &Cache{next: next, ttl: ttl, max: max(maxEntries, 1), now: time.Now, entries: map[key]*entry{}}
}

// LookupNetIP answers from the cache, or joins a lookup of the same name in
// flight, or starts one. The result is the caller's to modify. A caller whose
// ctx ends stops waiting; the lookup itself runs on (bounded by the deadline
// of the ctx that started it) so the callers still waiting get its answer.
func (c *Cache) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	k := key{network, host}
	c.mu.Lock()
	e := c.entries[k]
	if e != nil && e.isDone() && !c.now().Before(e.expires) {
		e = nil // expired (a failed lookup's entry is deleted before done closes)
	}
	if e == nil {
		e = &entry{done: make(chan struct{})}
		c.insertLocked(k, e)
		go c.resolve(ctx, k, e)
	}
	c.mu.Unlock()
	select {
	case <-e.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if e.err != nil {
		return nil, e.err
	}
	return slices.Clone(e.addrs), nil
}

// Cached returns the fresh answer for host without blocking, or false when
// there is none (never asked, expired, failed, or a lookup still in flight).
// The slice is the cache's own and must not be modified: the gateway calls
// Cached on every plain-HTTP request, and the copy LookupNetIP makes was one
// of its allocations.
func (c *Cache) Cached(network, host string) ([]netip.Addr, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key{network, host}]
	if e == nil || !e.isDone() || e.err != nil || len(e.addrs) == 0 || !c.now().Before(e.expires) {
		return nil, false
	}
	return e.addrs, true
}

func (c *Cache) resolve(ctx context.Context, k key, e *entry) {
	lctx := context.WithoutCancel(ctx)
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		lctx, cancel = context.WithDeadline(lctx, d)
		defer cancel()
	}
	addrs, err := c.next.LookupNetIP(lctx, k.network, k.host)
	c.mu.Lock()
	defer c.mu.Unlock()
	e.addrs, e.err, e.expires = addrs, err, c.now().Add(c.ttl)
	if err != nil || len(addrs) == 0 {
		if c.entries[k] == e {
			delete(c.entries, k)
		}
	}
	close(e.done)
}

func (c *Cache) insertLocked(k key, e *entry) {
	if len(c.entries) >= c.max {
		now := c.now()
		for ek, old := range c.entries {
			if old.isDone() && !now.Before(old.expires) {
				delete(c.entries, ek)
			}
		}
		for ek, old := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			if old.isDone() { // a lookup in flight keeps its place: its waiters hold it
				delete(c.entries, ek)
			}
		}
	}
	c.entries[k] = e
}

func (e *entry) isDone() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}
