package netpol

// Minus is the ports in s that are not in o; reach uses it to find what a
// matrix allows beyond intent, and what intent needs beyond the matrix.
func (s PortSet) Minus(o PortSet) PortSet {
	var out PortSet
	for pi := range s.spans {
		out.spans[pi] = minusSpans(s.spans[pi], o.spans[pi])
	}
	return out
}

// minusSpans subtracts sorted disjoint spans b from sorted disjoint spans a.
func minusSpans(a, b []span) []span {
	if len(b) == 0 {
		return a
	}
	var out []span
	j := 0
	for _, cur := range a {
		lo := cur.lo
		for j < len(b) && b[j].hi < lo {
			j++
		}
		k := j
		for k < len(b) && b[k].lo <= cur.hi {
			if b[k].lo > lo {
				out = append(out, span{lo, b[k].lo - 1})
			}
			lo = max(lo, b[k].hi+1)
			k++
		}
		if lo <= cur.hi {
			out = append(out, span{lo, cur.hi})
		}
	}
	return out
}
