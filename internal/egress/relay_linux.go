package egress

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

func pumpConns(dst, src net.Conn, last *atomic.Int64, idle time.Duration, c Counter) (int64, error) {
	st, ok1 := src.(*net.TCPConn)
	dt, ok2 := dst.(*net.TCPConn)
	if !ok1 || !ok2 {
		return pumpCopy(dst, src, last, idle, c)
	}
	return pumpSplice(dt, st, last, idle, c)
}

// pumpSplice waits until src has data (or EOF) through the runtime poller with
// no buffer, then splices exactly the queued byte count. io.Copy between two
// TCP sockets would splice too, but it parks inside splice(2) holding a pipe
// pair (two more descriptors) per direction for the whole life of an idle
// tunnel; this way an idle tunnel holds only its two sockets and two small
// goroutines, and busy tunnels still move data without copying it to user space.
func pumpSplice(dst, src *net.TCPConn, last *atomic.Int64, idle time.Duration, c Counter) (int64, error) {
	rc, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	var total int64
	lr := &io.LimitedReader{R: src}
	_ = src.SetReadDeadline(time.Now().Add(idle))
	for {
		avail, err := waitReadable(rc)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !idleExpired(src, last, idle) {
				continue
			}
			return total, err
		}
		if avail == 0 {
			return total, nil // orderly EOF
		}
		lr.N = int64(avail)
		n, err := dst.ReadFrom(lr)
		total += n
		c.Add(float64(n))
		last.Store(time.Now().UnixNano())
		if err != nil {
			return total, err
		}
	}
}

// waitReadable blocks until the socket has queued data or is at EOF and
// returns the number of queued bytes (0 at EOF). It peeks one byte with
// MSG_PEEK to tell "no data yet" (EAGAIN: let the poller wait) from EOF, and
// asks FIONREAD (TIOCINQ, which tcp(7) calls SIOCINQ) how much is queued.
func waitReadable(rc syscall.RawConn) (int, error) {
	var avail int
	var opErr error
	err := rc.Read(func(fd uintptr) bool {
		for {
			var v int32
			if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&v))); e != 0 {
				opErr = e
				return true
			}
			if v > 0 {
				avail = int(v)
				return true
			}
			var b [1]byte
			n, _, e := syscall.Syscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&b[0])), 1,
				syscall.MSG_PEEK|syscall.MSG_DONTWAIT, 0, 0)
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return false
			case e != 0:
				opErr = e
				return true
			case n == 0:
				return true // EOF
			}
			// Data arrived between the two calls: ask FIONREAD again.
		}
	})
	if err != nil {
		return 0, err
	}
	return avail, opErr
}
