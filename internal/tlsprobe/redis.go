package tlsprobe

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"time"
)

// redisPing sends PING as a RESP array over an established TLS session and
// reads the one-line reply. "+PONG" means the server runs commands for an
// unauthenticated client; "-NOAUTH ..." means requirepass or ACLs demand a
// login first (https://redis.io/docs/latest/develop/reference/protocol-spec/).
func redisPing(conn net.Conn, timeout time.Duration) (*RedisInfo, error) {
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return nil, fmt.Errorf("send ping: %w", err)
	}
	line, err := bufio.NewReaderSize(conn, 512).ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("read ping reply: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if len(line) > 200 {
		line = line[:200]
	}
	info := &RedisInfo{PingReply: line}
	switch {
	case line == "+PONG":
	case strings.HasPrefix(line, "-NOAUTH"):
		info.AuthNeeded = true
	default:
		return info, fmt.Errorf("unexpected reply %q to ping: not a redis server?", line)
	}
	return info, nil
}
