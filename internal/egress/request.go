package egress

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
)

var errHeaderTooLarge = errors.New("request header too large")

// headerLimit caps how many bytes the bufio.Reader above it may pull from the
// connection while a request head is read. It is lifted for bodies and tunnels.
type headerLimit struct {
	r         io.Reader
	remaining int
	limited   bool
}

func (l *headerLimit) Read(p []byte) (int, error) {
	if !l.limited {
		return l.r.Read(p)
	}
	if l.remaining <= 0 {
		return 0, errHeaderTooLarge
	}
	if len(p) > l.remaining {
		p = p[:l.remaining]
	}
	n, err := l.r.Read(p)
	l.remaining -= n
	return n, err
}

// requestHead is a parsed HTTP/1.x request line and header block. Unlike
// http.ReadRequest it keeps the Host header even for absolute-form targets, so
// the gateway can refuse a request whose Host disagrees with its URI instead of
// silently preferring one (RFC 9112 section 3.2.2 lets a proxy ignore Host; we
// would rather not guess which one the origin will honour).
type requestHead struct {
	Method     string
	Target     string
	Proto      string
	Major      int
	Minor      int
	Header     http.Header
	Host       string // the Host header; empty if absent
	HostHeader bool

	// vals backs the Header map's value slices, reused like the map by
	// readRequestHeadInto (one allocation per header field before).
	vals []string
}

// readRequestHead reads one request head from br. A malformed head returns an
// error wrapping errBadRequest; an over-long one errHeaderTooLarge.
func readRequestHead(br *bufio.Reader) (*requestHead, error) {
	return readRequestHeadInto(br, &requestHead{})
}

// readRequestHeadInto is readRequestHead filling h, whose Header map is
// cleared and reused: a keep-alive connection reads every head into one
// requestHead, so its map is allocated once per connection, not per request.
func readRequestHeadInto(br *bufio.Reader, h *requestHead) (*requestHead, error) {
	line, err := readLine(br)
	if err != nil {
		return nil, err
	}
	hdr, vals := h.Header, h.vals
	if err := parseRequestLine(line, h); err != nil {
		return nil, err
	}
	if h.Header, h.vals, err = readHeader(br, hdr, vals[:0]); err != nil {
		return nil, err
	}
	if hosts := h.Header["Host"]; len(hosts) > 0 {
		if len(hosts) > 1 {
			return nil, fmt.Errorf("%w: more than one Host header", errBadRequest)
		}
		h.Host, h.HostHeader = hosts[0], true
	}
	return h, nil
}

var errBadRequest = errors.New("malformed request")

// readHeader reads header fields up to the empty line. It is stricter than
// textproto.Reader.ReadMIMEHeader, which accepts obsolete line folding and
// spaces in field names: both are request-smuggling vectors between a proxy
// and an origin that parse differently (RFC 9112 sections 5.1 and 5.2), so
// both are refused here.
//
// A field's first value is appended to vals and the map holds a one-element,
// full-capacity slice of it, so a repeated field's append copies rather than
// overwriting the next field's value.
func readHeader(br *bufio.Reader, h http.Header, vals []string) (http.Header, []string, error) {
	if h == nil {
		h = make(http.Header, 8)
	}
	clear(h)
	for {
		line, err := readLine(br)
		if err != nil {
			return nil, vals, err
		}
		if line == "" {
			return h, vals, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, vals, fmt.Errorf("%w: obsolete header line folding", errBadRequest)
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" || !validMethod(name) {
			return nil, vals, fmt.Errorf("%w: header field %q", errBadRequest, truncate(line))
		}
		value = strings.Trim(value, " \t")
		for i := 0; i < len(value); i++ {
			if c := value[i]; c == '\r' || c == 0 || c == '\n' {
				return nil, vals, fmt.Errorf("%w: control character in header %q", errBadRequest, name)
			}
		}
		key := textproto.CanonicalMIMEHeaderKey(name)
		if prev, ok := h[key]; ok {
			h[key] = append(prev, value)
			continue
		}
		i := len(vals)
		vals = append(vals, value)
		h[key] = vals[i : i+1 : i+1]
	}
}

// readLine reads one CRLF- or LF-terminated line. Unlike bufio.Reader.ReadLine
// (and so textproto.Reader.ReadLine) it never returns a partial line when the
// connection times out or closes mid-line: that must be a timeout or EOF, not
// a short request line.
func readLine(br *bufio.Reader) (string, error) {
	// The usual line fits the buffer: convert it straight from bufio's
	// slice, one allocation (none for the empty line that ends a head)
	// instead of an accumulating copy and then the string.
	frag, err := br.ReadSlice('\n')
	if err == nil {
		return string(trimEOL(frag)), nil
	}
	if !errors.Is(err, bufio.ErrBufferFull) {
		if err == io.EOF && len(frag) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	acc := append([]byte(nil), frag...)
	for {
		frag, err := br.ReadSlice('\n')
		if err == nil {
			acc = append(acc, frag...)
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if err == io.EOF && (len(acc) > 0 || len(frag) > 0) {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		acc = append(acc, frag...)
	}
	return string(trimEOL(acc)), nil
}

// trimEOL drops the line's final LF and a CR before it.
func trimEOL(line []byte) []byte {
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

// parseRequestLine splits "METHOD target HTTP/1.x" strictly: single spaces,
// a token method, no control characters in the target, HTTP/1.0 or 1.1 only.
// It overwrites every field of h.
func parseRequestLine(line string, h *requestHead) error {
	method, rest, ok1 := strings.Cut(line, " ")
	target, proto, ok2 := strings.Cut(rest, " ")
	if !ok1 || !ok2 || method == "" || target == "" {
		return fmt.Errorf("%w: request line %q", errBadRequest, truncate(line))
	}
	if !validMethod(method) {
		return fmt.Errorf("%w: method %q", errBadRequest, truncate(method))
	}
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return fmt.Errorf("%w: control or space in target", errBadRequest)
		}
	}
	*h = requestHead{Method: method, Target: target, Proto: proto}
	switch proto {
	case "HTTP/1.1":
		h.Major, h.Minor = 1, 1
	case "HTTP/1.0":
		h.Major, h.Minor = 1, 0
	default:
		return fmt.Errorf("%w: protocol %q", errBadRequest, truncate(proto))
	}
	return nil
}

func validMethod(m string) bool {
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// headReader is a pooled bufio.Reader whose head reads are capped through lim.
type headReader struct {
	br  *bufio.Reader
	lim *headerLimit
}

var headReaders = sync.Pool{New: func() any {
	lim := &headerLimit{}
	return &headReader{br: bufio.NewReaderSize(lim, 4096), lim: lim}
}}

// newHeadReader returns an unpooled reader, for tests and fuzzing.
func newHeadReader(c io.Reader, max int) (*bufio.Reader, *headerLimit) {
	lim := &headerLimit{r: c, remaining: max, limited: true}
	return bufio.NewReaderSize(lim, 4096), lim
}

func getHeadReader(c io.Reader, max int) *headReader {
	hr := headReaders.Get().(*headReader)
	*hr.lim = headerLimit{r: c, remaining: max, limited: true}
	hr.br.Reset(hr.lim)
	return hr
}

func putHeadReader(hr *headReader) {
	hr.lim.r = nil
	hr.br.Reset(hr.lim)
	headReaders.Put(hr)
}
