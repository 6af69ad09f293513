package egress

import (
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// spliceMax is how much one splice(2) call asks to move: 1 MiB, the pipe
// size requested below and the default /proc/sys/fs/pipe-max-size.
const spliceMax = 1 << 20

// fSetPipeSz is F_SETPIPE_SZ from fcntl(2) (not exported by package syscall).
const fSetPipeSz = 1031

type kpipe struct{ r, w int }

// pipePool keeps a bounded free list of pipes for splicing. A relay holds a
// pipe only while bytes are moving and gives it back whenever the source has
// nothing to read, so idle tunnels hold none; the pool bounds how many stay
// open between bursts.
type pipePool struct{ free chan *kpipe }

func newPipePool() *pipePool { return &pipePool{free: make(chan *kpipe, 256)} }

func (pp *pipePool) get() (*kpipe, error) {
	select {
	case p := <-pp.free:
		return p, nil
	default:
	}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	// Best effort: a larger pipe moves more per call; the default 64 KiB works too.
	_, _, _ = syscall.Syscall(syscall.SYS_FCNTL, uintptr(fds[1]), fSetPipeSz, spliceMax)
	return &kpipe{r: fds[0], w: fds[1]}, nil
}

// put returns an empty pipe to the pool, or closes it when the pool is full.
func (pp *pipePool) put(p *kpipe) {
	select {
	case pp.free <- p:
	default:
		p.close()
	}
}

func (p *kpipe) close() {
	_ = syscall.Close(p.r)
	_ = syscall.Close(p.w)
}

// bufPool is RelayCopy's bounded set of copy buffers, each made on first
// use. A pump holds one only while bytes move, like a pipe; when all are held,
// the next burst splices instead, so a gateway with many busy tunnels keeps
// its memory bounded and falls back to the relay that costs least CPU.
type bufPool struct {
	free chan *[]byte
	left atomic.Int64 // buffers that may still be made
}

func newBufPool(n int) *bufPool {
	bp := &bufPool{free: make(chan *[]byte, n)}
	bp.left.Store(int64(n))
	return bp
}

// get returns a free buffer, or nil when every buffer is held.
func (bp *bufPool) get() *[]byte {
	select {
	case b := <-bp.free:
		return b
	default:
	}
	if bp.left.Add(-1) >= 0 {
		b := make([]byte, CopyBufferSize)
		return &b
	}
	bp.left.Add(1)
	return nil
}

// put returns a buffer; free has room for every buffer ever made.
func (bp *bufPool) put(b *[]byte) { bp.free <- b }

func pumpConns(dst, src net.Conn, last *atomic.Int64, idle time.Duration, c Counter, m mover) (int64, error) {
	st, ok1 := src.(*net.TCPConn)
	dt, ok2 := dst.(*net.TCPConn)
	if !ok1 || !ok2 || m.pipes == nil {
		return pumpCopy(dst, src, last, idle, c)
	}
	return pumpTCP(dt, st, last, idle, c, m)
}

// pumpTCP moves src to dst a burst at a time: whenever src is readable it
// takes a copy buffer (RelayCopy, while one is free) or a pipe and moves what
// src holds, and it gives either back whenever src has nothing to read, so an
// idle tunnel holds only its two sockets and two parked goroutines. io.Copy
// between two TCP sockets splices too, but it parks inside the runtime's
// splice loop holding a pipe pair (two more descriptors) per direction for
// the whole life of an idle tunnel.
func pumpTCP(dst, src *net.TCPConn, last *atomic.Int64, idle time.Duration, c Counter, m mover) (total int64, err error) {
	srcRC, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	dstRC, err := dst.SyscallConn()
	if err != nil {
		return 0, err
	}
	var p *kpipe
	defer func() {
		if p != nil {
			m.pipes.put(p) // empty whenever we get here with p set
		}
	}()
	_ = src.SetReadDeadline(time.Now().Add(idle))
	for {
		var n int
		var buf *[]byte
		var opErr error
		rerr := srcRC.Read(func(fd uintptr) bool {
			for {
				if p == nil && buf == nil && m.bufs != nil {
					buf = m.bufs.get() // nil when all are held: this burst splices
				}
				var k int
				var e error
				op := "read"
				if buf != nil {
					k, e = syscall.Read(int(fd), *buf)
				} else {
					if p == nil {
						if p, opErr = m.pipes.get(); opErr != nil {
							return true
						}
					}
					var k64 int64
					k64, e = syscall.Splice(int(fd), nil, p.w, nil, spliceMax, spliceFlags)
					k, op = int(k64), "splice"
				}
				switch {
				case e == syscall.EINTR:
					continue
				case e == syscall.EAGAIN:
					// Nothing to read: hold neither buffer nor pipe while waiting.
					if buf != nil {
						m.bufs.put(buf)
						buf = nil
					} else {
						m.pipes.put(p)
						p = nil
					}
					return false
				case e != nil:
					opErr = os.NewSyscallError(op, e)
				}
				n = max(k, 0)
				return true
			}
		})
		if buf != nil && (rerr != nil || opErr != nil || n == 0) {
			m.bufs.put(buf)
			buf = nil
		}
		if rerr != nil {
			if errors.Is(rerr, os.ErrDeadlineExceeded) && !idleExpired(src, last, idle) {
				continue
			}
			return total, rerr
		}
		if opErr != nil {
			return total, opErr
		}
		if n == 0 {
			return total, nil // orderly EOF
		}
		var moved int
		var werr error
		if buf != nil {
			moved, werr = dst.Write((*buf)[:n])
			m.bufs.put(buf)
			m.copied.Add(1)
		} else {
			moved, werr = drainPipe(dstRC, p, n)
			m.spliced.Add(1)
		}
		total += int64(moved)
		c.Add(float64(moved))
		last.Store(time.Now().UnixNano())
		if werr != nil {
			if p != nil {
				p.close() // may still hold bytes: never reuse it
				p = nil
			}
			return total, werr
		}
	}
}

// drainPipe splices n bytes from the pipe to the socket behind rc, waiting
// for the socket to become writable as needed.
func drainPipe(rc syscall.RawConn, p *kpipe, n int) (int, error) {
	moved := 0
	var opErr error
	werr := rc.Write(func(fd uintptr) bool {
		for moved < n {
			m, e := syscall.Splice(p.r, nil, int(fd), nil, n-moved, spliceFlags)
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return false
			case e != nil:
				opErr = os.NewSyscallError("splice", e)
				return true
			}
			moved += int(m)
		}
		return true
	})
	if werr != nil {
		return moved, werr
	}
	return moved, opErr
}

// SPLICE_F_MOVE | SPLICE_F_NONBLOCK from splice(2).
const spliceFlags = 0x1 | 0x2
