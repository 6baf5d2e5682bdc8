package web

import (
	"testing"
	"time"

	"github.com/devserver-console/console/internal/i18n"
)

func TestSafeNext(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", "/"},
		{"root", "/", "/"},
		{"local path with query", "/servers?status=RUNNING&page=2", "/servers?status=RUNNING&page=2"},
		{"absolute URL", "https://evil.example/x", "/"},
		{"scheme-relative", "//evil.example/x", "/"},
		{"backslash trick", "/\\evil.example", "/"},
		{"backslash later", "/ok\\..\\x", "/"},
		{"relative path", "servers", "/"},
		{"javascript", "javascript:alert(1)", "/"},
		{"header injection", "/x\r\nSet-Cookie: a=b", "/"},
		{"tab", "/\t/evil.example", "/"},
		{"sign-in loop", "/signin?next=/x", "/"},
		{"sign-out", "/signout", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := safeNext(tt.in); got != tt.want {
				t.Fatalf("safeNext(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestLockedMessage(t *testing.T) {
	tests := []struct {
		name string
		wait time.Duration
		want string
	}{
		{"fifteen minutes", 15 * time.Minute, "Too many failed sign-in attempts. Try again in 15 minutes."},
		{"rounds up", 90 * time.Second, "Too many failed sign-in attempts. Try again in 2 minutes."},
		{"short delays in seconds", 10 * time.Second, "Too many failed sign-in attempts. Try again in 10 seconds."},
		{"one second", time.Second, "Too many failed sign-in attempts. Try again in 1 second."},
		{"already over", -time.Second, "Too many failed sign-in attempts. Try again in 1 second."},
	}
	zh := i18n.MustLoad().Localizer(i18n.Chinese)
	if got, want := lockedMessage(zh, 15*time.Minute), "登录失败次数过多。请在 15 分钟后重试。"; got != want {
		t.Errorf("Chinese: %q, want %q", got, want)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lockedMessage(i18n.MustLoad().Localizer(i18n.English), tt.wait); got != tt.want {
				t.Fatalf("lockedMessage = %q, want %q", got, tt.want)
			}
		})
	}
}
