package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/devserver-console/console/internal/config"
)

func TestClientIPExtractor(t *testing.T) {
	proxies, err := config.ParsePrefixes("10.0.0.5, 192.168.10.0/24")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     string
		want    string
	}{
		{name: "no proxies: the connection's address", remote: "203.0.113.9:4000", xff: "198.51.100.1", want: "203.0.113.9"},
		{name: "no proxies: a private peer's header is not believed either", remote: "10.0.0.5:4000", xff: "198.51.100.1", want: "10.0.0.5"},
		{name: "trusted proxy: the client it names", trusted: proxies, remote: "10.0.0.5:4000", xff: "198.51.100.1", want: "198.51.100.1"},
		{name: "trusted range, two hops", trusted: proxies, remote: "10.0.0.5:4000", xff: "198.51.100.1, 192.168.10.7", want: "198.51.100.1"},
		{name: "a forged hop in front of the real client is ignored", trusted: proxies, remote: "10.0.0.5:4000", xff: "1.2.3.4, 198.51.100.1", want: "198.51.100.1"},
		{name: "an untrusted private peer cannot forge", trusted: proxies, remote: "10.0.0.6:4000", xff: "198.51.100.1", want: "10.0.0.6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := clientIPExtractor(tt.trusted)(r); got != tt.want {
				t.Errorf("client address = %q, want %q", got, tt.want)
			}
		})
	}
}
