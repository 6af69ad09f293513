// Package dnstest runs a DNS server on loopback for tests, so code under test
// can use the real Go resolver speaking real DNS over UDP without the network.
package dnstest

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// Server answers A and AAAA questions from a fixed table.
type Server struct {
	// Addr is the server's UDP address, host:port.
	Addr string
	// Queries counts the questions answered.
	Queries atomic.Int64

	mu    sync.Mutex
	names []string // each question's name as asked, with its final dot
}

// Names returns the name of every question asked so far, in order, exactly
// as it came on the wire (so a search-list suffix shows).
func (s *Server) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.names)
}

// Start serves answers until the test ends: a question for a name maps to
// the addresses of its type in answers[name] (the name without its final
// dot); any other name gets an empty answer.
func Start(tb testing.TB, answers map[string][]netip.Addr) *Server {
	tb.Helper()
	return StartAt(tb, "127.0.0.1:0", answers)
}

// StartAt is Start on a given UDP address, such as 127.0.0.1:53 inside a
// test's own network namespace, where a resolv.conf can name it.
func StartAt(tb testing.TB, addr string, answers map[string][]netip.Addr) *Server {
	tb.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { pc.Close() })
	s := &Server{Addr: pc.LocalAddr().String()}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if msg, ok := s.answer(buf[:n], answers); ok {
				_, _ = pc.WriteTo(msg, from)
			}
		}
	}()
	return s
}

func (s *Server) answer(query []byte, answers map[string][]netip.Addr) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	s.Queries.Add(1)
	s.mu.Lock()
	s.names = append(s.names, q.Name.String())
	s.mu.Unlock()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionAvailable: true})
	b.EnableCompression()
	_ = b.StartQuestions()
	_ = b.Question(q)
	_ = b.StartAnswers()
	name := q.Name.String()
	name = name[:len(name)-1]
	rh := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 300}
	for _, a := range answers[name] {
		switch {
		case q.Type == dnsmessage.TypeA && a.Is4():
			_ = b.AResource(rh, dnsmessage.AResource{A: a.As4()})
		case q.Type == dnsmessage.TypeAAAA && a.Is6():
			_ = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()})
		}
	}
	msg, err := b.Finish()
	return msg, err == nil
}
