package diff

import (
	"net/netip"
	"testing"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestCIDRNames: merged parts are named as the engine names its entities,
// the fewest aligned blocks, so an unchanged range keeps its name.
func TestCIDRNames(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string
	}{
		{name: "one", in: []string{"10.0.0.0/8"}, want: "10.0.0.0/8"},
		{name: "two halves", in: []string{"10.128.0.0/9", "10.0.0.0/9"}, want: "10.0.0.0/8"},
		{name: "four quarters, any order", in: []string{"0.0.0.0/2", "192.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2"}, want: "0.0.0.0/0"},
		{name: "neighbours that are no halves", in: []string{"10.1.0.0/16", "10.2.0.0/16"}, want: "10.1.0.0/16,10.2.0.0/16"},
		{name: "families apart, IPv4 first", in: []string{"::/1", "8000::/1", "0.0.0.0/1", "128.0.0.0/1"}, want: "0.0.0.0/0,::/0"},
		{name: "duplicates", in: []string{"10.0.0.0/8", "10.0.0.0/8"}, want: "10.0.0.0/8"},
		{name: "the address space less one /24",
			in:   []string{"0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/5", "200.0.0.0/7", "202.0.0.0/8", "203.0.0.0/18", "203.0.64.0/19", "203.0.96.0/20", "203.0.112.0/24", "203.0.114.0/23", "203.0.116.0/22", "203.0.120.0/21", "203.0.128.0/17", "203.1.0.0/16", "203.2.0.0/15", "203.4.0.0/14", "203.8.0.0/13", "203.16.0.0/12", "203.32.0.0/11", "203.64.0.0/10", "203.128.0.0/9", "204.0.0.0/6", "208.0.0.0/4", "224.0.0.0/3"},
			want: "0.0.0.0/1,128.0.0.0/2,192.0.0.0/5,200.0.0.0/7,202.0.0.0/8,203.0.0.0/18,203.0.64.0/19,203.0.96.0/20,203.0.112.0/24,203.0.114.0/23,203.0.116.0/22,203.0.120.0/21,203.0.128.0/17,203.1.0.0/16,203.2.0.0/15,203.4.0.0/14,203.8.0.0/13,203.16.0.0/12,203.32.0.0/11,203.64.0.0/10,203.128.0.0/9,204.0.0.0/6,208.0.0.0/4,224.0.0.0/3"},
		{name: "and with it back", in: []string{"0.0.0.0/1", "128.0.0.0/2", "192.0.0.0/5", "200.0.0.0/7", "202.0.0.0/8", "203.0.0.0/18", "203.0.64.0/19", "203.0.96.0/20", "203.0.112.0/24", "203.0.113.0/24", "203.0.114.0/23", "203.0.116.0/22", "203.0.120.0/21", "203.0.128.0/17", "203.1.0.0/16", "203.2.0.0/15", "203.4.0.0/14", "203.8.0.0/13", "203.16.0.0/12", "203.32.0.0/11", "203.64.0.0/10", "203.128.0.0/9", "204.0.0.0/6", "208.0.0.0/4", "224.0.0.0/3"},
			want: "0.0.0.0/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cidrNames(prefixes(t, tt.in...)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// TestRefine: the common refinement of two partitions holds every address
// once, each part inside one entity of each side.
func TestRefine(t *testing.T) {
	base := []entity{
		{name: "0.0.0.0/0", prefixes: prefixes(t, "0.0.0.0/0")},
		{name: "::/0", prefixes: prefixes(t, "::/0")},
	}
	head := []entity{
		{name: "10.0.0.0/8", prefixes: prefixes(t, "10.0.0.0/8")},
		{name: "0.0.0.0/5,8.0.0.0/7,11.0.0.0/8,12.0.0.0/6,16.0.0.0/4,32.0.0.0/3,64.0.0.0/2,128.0.0.0/1",
			prefixes: prefixes(t, "0.0.0.0/5", "8.0.0.0/7", "11.0.0.0/8", "12.0.0.0/6", "16.0.0.0/4", "32.0.0.0/3", "64.0.0.0/2", "128.0.0.0/1")},
		{name: "::/0", prefixes: prefixes(t, "::/0")},
	}
	got := refine(base, head)
	if len(got) != 3 {
		t.Fatalf("%d regions, want 3: %+v", len(got), got)
	}
	var v4 []netip.Prefix
	for _, r := range got {
		if r.base == "0.0.0.0/0" {
			v4 = append(v4, r.prefixes...)
		}
		if r.base == "::/0" && (r.head != "::/0" || cidrNames(r.prefixes) != "::/0") {
			t.Errorf("IPv6 region %+v", r)
		}
	}
	if cidrNames(v4) != "0.0.0.0/0" {
		t.Errorf("the IPv4 regions cover %s, want all of 0.0.0.0/0", cidrNames(v4))
	}
	if got[0].head != "10.0.0.0/8" || cidrNames(got[0].prefixes) != "10.0.0.0/8" {
		t.Errorf("first region %+v, want 10.0.0.0/8 on its own", got[0])
	}
}
