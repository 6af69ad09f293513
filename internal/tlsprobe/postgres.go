package tlsprobe

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
)

// PostgreSQL frontend/backend protocol constants, from
// https://www.postgresql.org/docs/current/protocol-message-formats.html
const (
	pgSSLRequestCode   = 80877103 // 1234<<16 | 5679
	pgProtocolVersion3 = 196608   // 3<<16 | 0
	pgMaxMessage       = 1 << 16  // replies to a startup are small; anything bigger is not PostgreSQL
	pgSQLStateHBA      = "28000"  // invalid_authorization_specification
)

// errSSLRefused is the server answering 'N' to SSLRequest: TLS is off.
var errSSLRefused = errors.New("postgresql server answered N to SSLRequest: ssl is off")

// Outcomes of the plaintext startup probe.
const (
	PlaintextRefused  = "refused"
	PlaintextAccepted = "accepted"
	PlaintextUnknown  = "unknown"
)

// postgresSSLRequest sends SSLRequest and reads the one-byte answer. After 'S'
// the next bytes on the connection are the TLS handshake.
func postgresSSLRequest(ctx context.Context, conn net.Conn) error {
	var req [8]byte
	binary.BigEndian.PutUint32(req[0:4], 8)
	binary.BigEndian.PutUint32(req[4:8], pgSSLRequestCode)
	if _, err := conn.Write(req[:]); err != nil {
		return fmt.Errorf("send sslrequest: %w", err)
	}
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("read sslrequest answer: %w", ctx.Err())
		}
		return fmt.Errorf("read sslrequest answer: %w", err)
	}
	switch b[0] {
	case 'S':
		return nil
	case 'N':
		return errSSLRefused
	default:
		return fmt.Errorf("answer %q to sslrequest: not a postgresql server", b[0])
	}
}

// startupMessage builds a protocol 3.0 StartupMessage. The user name is not a
// credential: the server applies pg_hba.conf, which is what we want to see,
// before it asks for one, and we never answer an authentication request.
func startupMessage(user, database string) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint32(body, pgProtocolVersion3)
	for _, kv := range [][2]string{{"user", user}, {"database", database}, {"application_name", "budnet-tlsprobe"}} {
		body = append(body, kv[0]...)
		body = append(body, 0)
		body = append(body, kv[1]...)
		body = append(body, 0)
	}
	body = append(body, 0)
	msg := binary.BigEndian.AppendUint32(nil, uint32(len(body)+4))
	return append(msg, body...)
}

// probePlaintextStartup sends a StartupMessage without TLS and classifies the
// reply. It closes the connection as soon as the server has shown its hand.
func (p *Prober) probePlaintextStartup(ctx context.Context, t Target) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	conn, stop, err := p.dial(ctx, t)
	if err != nil {
		return PlaintextUnknown, "", err
	}
	defer stop()
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if _, err := conn.Write(startupMessage("postgres", "postgres")); err != nil {
		return PlaintextUnknown, "", fmt.Errorf("send startup message: %w", err)
	}
	outcome, detail, err := classifyStartupReply(bufio.NewReader(conn))
	if err != nil {
		return PlaintextUnknown, "", fmt.Errorf("read startup reply: %w", err)
	}
	return outcome, detail, nil
}

// classifyStartupReply reads backend messages until one decides whether the
// server would carry on an unencrypted session. An authentication request of
// any kind (including AuthenticationOk, i.e. trust) means the plaintext startup
// got past pg_hba.conf; an ErrorResponse naming pg_hba.conf means it did not.
func classifyStartupReply(r io.Reader) (outcome, detail string, err error) {
	for range 16 {
		typ, payload, err := readBackendMessage(r)
		if err != nil {
			return PlaintextUnknown, "", err
		}
		switch typ {
		case 'R':
			if len(payload) < 4 {
				return PlaintextUnknown, "", fmt.Errorf("authentication message of %d bytes", len(payload))
			}
			return PlaintextAccepted, "server asked for " + authName(binary.BigEndian.Uint32(payload)) + " on an unencrypted connection", nil
		case 'E':
			fields := parseErrorFields(payload)
			return classifyStartupError(fields), summarizeError(fields), nil
		case 'N', 'v':
			// A NoticeResponse or NegotiateProtocolVersion may precede the answer.
			continue
		default:
			return PlaintextUnknown, "", fmt.Errorf("unexpected message type %q", typ)
		}
	}
	return PlaintextUnknown, "", errors.New("no decisive reply in 16 messages")
}

// classifyStartupError reads an ErrorResponse to a plaintext startup. pg_hba
// rejections carry SQLSTATE 28000 and, for a connection without TLS, end in
// "no encryption" (src/backend/libpq/auth.c, ClientAuthentication); the text
// is localized, so the code plus the untranslatable "pg_hba.conf" decide.
func classifyStartupError(f map[byte]string) string {
	msg := f['M']
	if f['C'] == pgSQLStateHBA && strings.Contains(msg, "pg_hba.conf") {
		return PlaintextRefused
	}
	return PlaintextUnknown
}

func summarizeError(f map[byte]string) string {
	sev := f['V']
	if sev == "" {
		sev = f['S']
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s: %s", sev, f['C'], f['M']))
}

// readBackendMessage reads one typed backend message: a type byte, an int32
// length that counts itself, and the payload.
func readBackendMessage(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, fmt.Errorf("read message header: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[1:5])
	if n < 4 || n > pgMaxMessage {
		return 0, nil, fmt.Errorf("message %q length %d out of range", hdr[0], n)
	}
	payload := make([]byte, n-4)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, fmt.Errorf("read message %q body: %w", hdr[0], err)
	}
	return hdr[0], payload, nil
}

// parseErrorFields decodes ErrorResponse/NoticeResponse fields: a sequence of
// (code byte, NUL-terminated string), ended by a zero byte.
func parseErrorFields(b []byte) map[byte]string {
	f := make(map[byte]string)
	for len(b) > 0 && b[0] != 0 {
		code := b[0]
		b = b[1:]
		end := 0
		for end < len(b) && b[end] != 0 {
			end++
		}
		f[code] = string(b[:end])
		if end == len(b) {
			break
		}
		b = b[end+1:]
	}
	return f
}

// authName names AuthenticationRequest codes (protocol-message-formats.html).
func authName(code uint32) string {
	switch code {
	case 0:
		return "nothing (AuthenticationOk: trust)"
	case 2:
		return "Kerberos V5"
	case 3:
		return "a cleartext password"
	case 5:
		return "an MD5 password"
	case 7:
		return "GSSAPI"
	case 9:
		return "SSPI"
	case 10:
		return "SASL"
	default:
		return fmt.Sprintf("authentication method %d", code)
	}
}
