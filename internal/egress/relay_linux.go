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

func pumpConns(dst, src net.Conn, last *atomic.Int64, idle time.Duration, c Counter, pipes *pipePool) (int64, error) {
	st, ok1 := src.(*net.TCPConn)
	dt, ok2 := dst.(*net.TCPConn)
	if !ok1 || !ok2 || pipes == nil {
		return pumpCopy(dst, src, last, idle, c)
	}
	return pumpSplice(dt, st, last, idle, c, pipes)
}

// pumpSplice moves src to dst with splice(2) through a pooled pipe, without
// copying to user space. io.Copy between two TCP sockets splices too, but it
// parks inside the runtime's splice loop holding a pipe pair (two more
// descriptors) per direction for the whole life of an idle tunnel; here the
// pipe goes back to the pool whenever src has nothing to read, so an idle
// tunnel holds only its two sockets and two parked goroutines.
func pumpSplice(dst, src *net.TCPConn, last *atomic.Int64, idle time.Duration, c Counter, pipes *pipePool) (total int64, err error) {
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
			pipes.put(p) // empty whenever we get here with p set
		}
	}()
	_ = src.SetReadDeadline(time.Now().Add(idle))
	for {
		var n int
		var opErr error
		rerr := srcRC.Read(func(fd uintptr) bool {
			for {
				if p == nil {
					if p, opErr = pipes.get(); opErr != nil {
						return true
					}
				}
				m, e := syscall.Splice(int(fd), nil, p.w, nil, spliceMax, spliceFlags)
				switch {
				case e == syscall.EINTR:
					continue
				case e == syscall.EAGAIN:
					pipes.put(p) // nothing to read: do not hold the pipe while waiting
					p = nil
					return false
				case e != nil:
					opErr = os.NewSyscallError("splice", e)
				}
				n = int(m)
				return true
			}
		})
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
		moved, werr := drainPipe(dstRC, p, n)
		total += int64(moved)
		c.Add(float64(moved))
		last.Store(time.Now().UnixNano())
		if werr != nil {
			p.close() // may still hold bytes: never reuse it
			p = nil
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
