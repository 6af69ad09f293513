package egress

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// relay copies both ways between client and upstream until both directions
// end, then returns the byte counts (sent = client to upstream). A direction
// that ends cleanly half-closes its destination so request/response protocols
// that rely on shutdown(SHUT_WR) keep working; an error in either direction
// closes both. The tunnel closes after idle with no bytes in either direction.
func relay(client, upstream net.Conn, idle time.Duration, sentC, recvC Counter, m mover) (sent, received int64) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	done := make(chan int64, 1)
	go func() { done <- pump(upstream, client, &last, idle, sentC, m) }()
	received = pump(client, upstream, &last, idle, recvC, m)
	sent = <-done
	return sent, received
}

// mover is what a tunnel's pumps move bytes through: pooled pipes (nil off
// Linux) and, under RelayCopy, a bounded set of copy buffers tried first.
type mover struct {
	pipes *pipePool
	bufs  *bufPool // nil: splice only
	// copied and spliced count pumpTCP's bursts by relay.
	copied, spliced Counter
}

// pump moves src to dst. On Linux between two TCP sockets it splices through
// a pooled pipe, or under RelayCopy copies through a pooled buffer, holding
// either only while bytes move (see pumpTCP); otherwise it falls back to a
// pooled-buffer copy.
func pump(dst, src net.Conn, last *atomic.Int64, idle time.Duration, c Counter, m mover) int64 {
	n, err := pumpConns(dst, src, last, idle, c, m)
	if err == nil {
		closeWrite(dst)
		return n
	}
	dst.Close()
	src.Close()
	return n
}

// idleExpired handles a read deadline: if the other direction moved bytes
// recently the deadline is pushed out and the pump continues.
func idleExpired(src net.Conn, last *atomic.Int64, idle time.Duration) bool {
	deadline := time.Unix(0, last.Load()).Add(idle)
	if time.Now().Before(deadline) {
		_ = src.SetReadDeadline(deadline)
		return false
	}
	return true
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// pumpCopy is the portable path (TLS client connections, non-Linux).
func pumpCopy(dst, src net.Conn, last *atomic.Int64, idle time.Duration, c Counter) (int64, error) {
	var total int64
	_ = src.SetReadDeadline(time.Now().Add(idle))
	for {
		bp := copyBufs.Get().(*[]byte)
		n, err := src.Read(*bp)
		if n > 0 {
			w, werr := dst.Write((*bp)[:n])
			total += int64(w)
			c.Add(float64(w))
			last.Store(time.Now().UnixNano())
			if werr != nil {
				copyBufs.Put(bp)
				return total, werr
			}
		}
		copyBufs.Put(bp)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return total, nil
		case errors.Is(err, os.ErrDeadlineExceeded):
			if idleExpired(src, last, idle) {
				return total, err
			}
		default:
			return total, err
		}
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		return
	}
	c.Close()
}
