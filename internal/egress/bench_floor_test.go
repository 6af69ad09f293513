package egress

import (
	"bufio"
	"io"
	"net"
	"net/netip"
)

// The floors are the least a forward proxy in Go can do for each benchmark,
// run in their own process like the gateway: no parsing beyond the end of the
// head, no allowlist, guard, identity, limits, audit or metrics, and io.Copy
// (the standard library's splice between TCP sockets) to relay. They put the
// gateway's figures in proportion: what this machine's kernel and scheduler
// cost for the same connections, whatever the proxy does.

// serveFloorConnect answers every CONNECT by dialling 127.0.0.1:port and
// relaying.
func serveFloorConnect(ln net.Listener, port uint16) {
	acceptEach(ln, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 { // the blank line ending the head
				break
			}
		}
		up, err := net.Dial("tcp", loopbackPort(port))
		if err != nil {
			return
		}
		defer up.Close()
		if _, err := io.WriteString(c, connectEstablished); err != nil {
			return
		}
		floorRelay(c, up)
	})
}

// serveFloorRelay relays every connection to 127.0.0.1:port byte for byte:
// the two extra hops any proxy adds to a plain HTTP exchange.
func serveFloorRelay(ln net.Listener, port uint16) {
	acceptEach(ln, func(c net.Conn) {
		up, err := net.Dial("tcp", loopbackPort(port))
		if err != nil {
			return
		}
		defer up.Close()
		floorRelay(c, up)
	})
}

func loopbackPort(port uint16) string {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port).String()
}

// acceptEach serves every accepted connection in its own goroutine and
// closes it afterwards, until ln is closed.
func acceptEach(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			serve(c)
		}()
	}
}

func floorRelay(c, up net.Conn) {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, c)
		_ = up.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	_, _ = io.Copy(c, up)
	_ = c.(*net.TCPConn).CloseWrite()
	<-done
}
