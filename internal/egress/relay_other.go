//go:build !linux

package egress

import (
	"net"
	"sync/atomic"
	"time"
)

type pipePool struct{}

func newPipePool() *pipePool { return nil }

// bufPool is RelayCopy's buffer set; off Linux every tunnel copies through
// the portable relay's buffers instead.
type bufPool struct{}

func newBufPool(int) *bufPool { return nil }

func pumpConns(dst, src net.Conn, last *atomic.Int64, idle time.Duration, c Counter, _ mover) (int64, error) {
	return pumpCopy(dst, src, last, idle, c)
}
