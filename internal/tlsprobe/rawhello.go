package tlsprobe

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// crypto/tls can only offer the suites it implements. To see whether a server
// accepts the others (DHE, CAMELLIA, ARIA, CCM, NULL, EXPORT, anonymous), the
// probe writes a ClientHello by hand and reads only the server's first answer:
// a ServerHello names the suite and version it chose, an alert refuses. No key
// exchange is completed. Layouts: RFC 5246 sections 6.2 and 7.4.1, RFC 8446
// section 4.1.3 (the TLS 1.3 downgrade sentinel is irrelevant since TLS 1.3 is
// never offered here).

const (
	recordHandshake   = 22
	recordAlert       = 21
	handshakeClient   = 1
	handshakeServer   = 2
	maxRecordFragment = 1<<14 + 2048
)

// errHelloRefused is the server answering a raw ClientHello with an alert or
// by closing the connection: it accepts none of the offered suites at that version.
var errHelloRefused = errors.New("server refused the client hello")

// helloReply is what a ServerHello says.
type helloReply struct {
	version uint16
	suite   uint16
}

// buildClientHello writes a TLS record holding a ClientHello that offers
// exactly version and suites, with the extensions servers need to pick
// ECDHE/ECDSA suites (supported_groups, ec_point_formats,
// signature_algorithms) and SNI when host is a name.
func buildClientHello(version uint16, host string, suites []uint16) ([]byte, error) {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, version)
	random := make([]byte, 32)
	if _, err := rand.Read(random); err != nil {
		return nil, fmt.Errorf("client random: %w", err)
	}
	body = append(body, random...)
	body = append(body, 0) // empty session id
	body = binary.BigEndian.AppendUint16(body, uint16(2*len(suites)))
	for _, s := range suites {
		body = binary.BigEndian.AppendUint16(body, s)
	}
	body = append(body, 1, 0) // compression: null only

	var ext []byte
	if host != "" && net.ParseIP(host) == nil && len(host) < 256 {
		name := []byte(host)
		sni := binary.BigEndian.AppendUint16(nil, uint16(len(name)+3))
		sni = append(sni, 0) // host_name
		sni = binary.BigEndian.AppendUint16(sni, uint16(len(name)))
		ext = appendExtension(ext, 0, append(sni, name...))
	}
	// x25519, secp256r1, secp384r1, secp521r1, ffdhe2048, ffdhe3072
	ext = appendExtension(ext, 10, u16List(29, 23, 24, 25, 256, 257))
	ext = appendExtension(ext, 11, []byte{1, 0}) // ec_point_formats: uncompressed
	if version >= 0x0303 {
		ext = appendExtension(ext, 13, u16List(0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601,
			0x0403, 0x0503, 0x0603, 0x0807, 0x0201, 0x0203))
	}
	ext = appendExtension(ext, 0xff01, []byte{0}) // renegotiation_info, initial
	body = binary.BigEndian.AppendUint16(body, uint16(len(ext)))
	body = append(body, ext...)

	hs := []byte{handshakeClient, byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))}
	hs = append(hs, body...)
	// Record version 1.0 for the first flight, as every client does for
	// compatibility with old servers (RFC 5246 appendix E.1).
	rec := []byte{recordHandshake, 3, 1, byte(len(hs) >> 8), byte(len(hs))}
	return append(rec, hs...), nil
}

func appendExtension(b []byte, typ uint16, data []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

func u16List(vs ...uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(2*len(vs)))
	for _, v := range vs {
		b = binary.BigEndian.AppendUint16(b, v)
	}
	return b
}

// readServerHello reads records until the ServerHello's version and suite
// are known. An alert, or the connection closing before any answer, means
// the hello was refused.
func readServerHello(r io.Reader) (helloReply, error) {
	var hs []byte // handshake bytes, which may span records
	for range 8 {
		var hdr [5]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) && len(hs) == 0 {
				return helloReply{}, fmt.Errorf("%w: connection closed", errHelloRefused)
			}
			return helloReply{}, fmt.Errorf("read record header: %w", err)
		}
		n := int(binary.BigEndian.Uint16(hdr[3:5]))
		if n == 0 || n > maxRecordFragment || hdr[1] != 3 {
			return helloReply{}, fmt.Errorf("record type %d version %d.%d length %d: not tls", hdr[0], hdr[1], hdr[2], n)
		}
		frag := make([]byte, n)
		if _, err := io.ReadFull(r, frag); err != nil {
			return helloReply{}, fmt.Errorf("read record: %w", err)
		}
		switch hdr[0] {
		case recordAlert:
			if len(frag) >= 2 {
				return helloReply{}, fmt.Errorf("%w: alert %d", errHelloRefused, frag[1])
			}
			return helloReply{}, errHelloRefused
		case recordHandshake:
			hs = append(hs, frag...)
		default:
			return helloReply{}, fmt.Errorf("unexpected record type %d before server hello", hdr[0])
		}
		if reply, done, err := parseServerHello(hs); done {
			return reply, err
		}
	}
	return helloReply{}, errors.New("no server hello in 8 records")
}

// parseServerHello decodes a ServerHello at the start of hs. done is false
// while more bytes are needed.
func parseServerHello(hs []byte) (reply helloReply, done bool, err error) {
	if len(hs) < 4 {
		return helloReply{}, false, nil
	}
	if hs[0] != handshakeServer {
		return helloReply{}, true, fmt.Errorf("handshake message %d where server hello was expected", hs[0])
	}
	body := hs[4:]
	// version(2) random(32) session_id_len(1) [session id] suite(2)
	if len(body) < 35 {
		return helloReply{}, false, nil
	}
	sidLen := int(body[34])
	if sidLen > 32 {
		return helloReply{}, true, fmt.Errorf("server hello session id of %d bytes", sidLen)
	}
	if len(body) < 35+sidLen+2 {
		return helloReply{}, false, nil
	}
	return helloReply{
		version: binary.BigEndian.Uint16(body[0:2]),
		suite:   binary.BigEndian.Uint16(body[35+sidLen:]),
	}, true, nil
}

// rawHello dials t, runs the scheme's upgrade step, sends a hand-made
// ClientHello for version and suites and returns the server's choice.
func (p *Prober) rawHello(ctx context.Context, t Target, version uint16, suites []uint16) (helloReply, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	conn, stop, err := p.dial(ctx, t)
	if err != nil {
		return helloReply{}, fmt.Errorf("%w: %w", errPreTLS, err)
	}
	defer stop()
	defer conn.Close()
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(p.opts.Timeout)
	}
	_ = conn.SetDeadline(dl)
	if err := startTLS(ctx, t.Scheme, conn); err != nil {
		return helloReply{}, fmt.Errorf("%w: %w", errPreTLS, err)
	}
	hello, err := buildClientHello(version, t.Host, suites)
	if err != nil {
		return helloReply{}, err
	}
	if _, err := conn.Write(hello); err != nil {
		return helloReply{}, fmt.Errorf("send client hello: %w", err)
	}
	return readServerHello(conn)
}
