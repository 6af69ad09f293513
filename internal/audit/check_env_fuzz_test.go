package audit

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzConnectionSettings feeds arbitrary settings to the database TLS rules:
// they must not panic, and a URL's password must never reach a finding.
func FuzzConnectionSettings(f *testing.F) {
	for _, seed := range [][2]string{
		{"DATABASE_URL", "postgresql://u:p4ss@h:5432/db?sslmode=disable"},
		{"DATABASE_URL", "postgresql+asyncpg://u:p4ss@h/db?ssl=require"},
		{"DSN", "host=h dbname=d password='p4 ss' sslmode=verify-full"},
		{"CLICKHOUSE_URL", "clickhouse://u:p4ss@h:9000/db?secure=false"},
		{"REDIS_URI", "redis://:p4ss@h:6379/0"},
		{"MINIO_ENDPOINT", "http://minio:9000"},
		{"PGHOST", "%zz"},
		{"REDIS_URI", "rediss://[::1"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		s := &envSet{subject: "fuzz", vars: map[string]setting{}}
		s.set(setting{name: name, value: value})
		var rs []Result
		for _, judge := range []func(*envSet) []Result{judgePostgres, judgeClickHouse, judgeRedis, judgeObjectStore} {
			rs = append(rs, judge(s)...)
		}
		u, err := url.Parse(value)
		if err != nil || u.User == nil {
			return
		}
		pw, ok := u.User.Password()
		if !ok || len(pw) < 4 || strings.Contains(u.User.Username(), pw) || strings.Contains(u.Host+u.Path+u.RawQuery+u.Scheme, pw) {
			return
		}
		for _, r := range rs {
			for _, e := range r.Evidence {
				if strings.Contains(e.Detail, pw) {
					t.Fatalf("password %q printed in %q", pw, e.Detail)
				}
			}
		}
	})
}
