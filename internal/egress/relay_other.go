//go:build !linux

package egress

import (
	"net"
	"sync/atomic"
	"time"
)

func pumpConns(dst, src net.Conn, last *atomic.Int64, idle time.Duration, c Counter) (int64, error) {
	return pumpCopy(dst, src, last, idle, c)
}
