package tlsprobe

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// backendMsg frames a backend message: type, int32 length counting itself, payload.
func backendMsg(typ byte, payload []byte) []byte {
	b := []byte{typ}
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)+4))
	return append(b, payload...)
}

func authRequest(code uint32) []byte {
	return backendMsg('R', binary.BigEndian.AppendUint32(nil, code))
}

func errorResponse(fields ...string) []byte {
	var p []byte
	for i := 0; i+1 < len(fields); i += 2 {
		p = append(p, fields[i][0])
		p = append(p, fields[i+1]...)
		p = append(p, 0)
	}
	return backendMsg('E', append(p, 0))
}

func TestClassifyStartupReply(t *testing.T) {
	hbaReject := errorResponse("S", "FATAL", "V", "FATAL", "C", "28000",
		"M", `pg_hba.conf rejects connection for host "127.0.0.1", user "postgres", database "postgres", no encryption`)
	noEntry := errorResponse("S", "FATAL", "V", "FATAL", "C", "28000",
		"M", `no pg_hba.conf entry for host "10.0.0.9", user "postgres", database "postgres", no encryption`)
	starting := errorResponse("S", "FATAL", "V", "FATAL", "C", "57P03", "M", "the database system is starting up")
	notice := backendMsg('N', []byte("SNOTICE\x00Mhello\x00\x00"))
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr bool
	}{
		{name: "sasl", in: authRequest(10), want: PlaintextAccepted},
		{name: "md5", in: authRequest(5), want: PlaintextAccepted},
		{name: "cleartext", in: authRequest(3), want: PlaintextAccepted},
		{name: "trust", in: authRequest(0), want: PlaintextAccepted},
		{name: "hostnossl reject", in: hbaReject, want: PlaintextRefused},
		{name: "no pg_hba entry", in: noEntry, want: PlaintextRefused},
		{name: "starting up", in: starting, want: PlaintextUnknown},
		{name: "notice first", in: append(append([]byte{}, notice...), hbaReject...), want: PlaintextRefused},
		{name: "truncated header", in: []byte{'R', 0, 0}, want: PlaintextUnknown, wantErr: true},
		{name: "length too small", in: []byte{'R', 0, 0, 0, 3}, want: PlaintextUnknown, wantErr: true},
		{name: "length too large", in: []byte{'E', 0x7f, 0, 0, 0}, want: PlaintextUnknown, wantErr: true},
		{name: "short auth body", in: backendMsg('R', []byte{0, 0}), want: PlaintextUnknown, wantErr: true},
		{name: "not postgres", in: []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), want: PlaintextUnknown, wantErr: true},
		{name: "empty", in: nil, want: PlaintextUnknown, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, detail, err := classifyStartupReply(bytes.NewReader(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("outcome = %q (%s), want %q", got, detail, tc.want)
			}
		})
	}
}

func TestStartupMessageLayout(t *testing.T) {
	m := startupMessage("postgres", "postgres")
	if n := binary.BigEndian.Uint32(m[:4]); int(n) != len(m) {
		t.Fatalf("length field %d, message %d bytes", n, len(m))
	}
	if v := binary.BigEndian.Uint32(m[4:8]); v != 3<<16 {
		t.Fatalf("protocol %#x, want 3.0", v)
	}
	if !bytes.HasSuffix(m, []byte{0, 0}) || bytes.Contains(m, []byte("password")) {
		t.Fatalf("startup message %q must end in a double NUL and carry no password", m)
	}
}

// FuzzClassifyStartupReply feeds arbitrary server bytes to the reply parser:
// it must never panic, must refuse to allocate beyond pgMaxMessage, and may
// only call a reply "accepted" when it really starts with an 'R' message (after
// optional notices).
func FuzzClassifyStartupReply(f *testing.F) {
	f.Add(authRequest(10))
	f.Add(errorResponse("S", "FATAL", "C", "28000", "M", "no pg_hba.conf entry for host, no encryption"))
	f.Add(append(backendMsg('N', []byte("Mx\x00\x00")), authRequest(0)...))
	f.Add([]byte{'E', 0, 0, 0, 4})
	f.Add([]byte{'R', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		outcome, _, err := classifyStartupReply(bytes.NewReader(data))
		switch outcome {
		case PlaintextAccepted, PlaintextRefused, PlaintextUnknown:
		default:
			t.Fatalf("outcome %q", outcome)
		}
		if err != nil && outcome != PlaintextUnknown {
			t.Fatalf("error %v with decisive outcome %q", err, outcome)
		}
		if outcome == PlaintextAccepted && !bytes.Contains(data, []byte{'R'}) {
			t.Fatalf("accepted without an authentication message in %q", data)
		}
		fields := parseErrorFields(data)
		for _, v := range fields {
			if len(v) > len(data) {
				t.Fatalf("field longer than input")
			}
		}
	})
}
