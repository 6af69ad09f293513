//go:build !linux

package egress

import (
	"net"
	"sync/atomic"
	"time"
)

type pipePool struct{}

func newPipePool() *pipePool { return nil }

func pumpConns(dst, src net.Conn, last *atomic.Int64, idle time.Duration, c Counter, _ *pipePool) (int64, error) {
	return pumpCopy(dst, src, last, idle, c)
}
