package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/devserver-console/console/internal/metrics"
)

// serveMetrics opens the metrics listener (CONSOLE_METRICS_ADDR) before
// anything else, so a busy port is reported before the database is
// touched, and serves the metrics on it until Close. Without an address
// there is no listener.
func (a *App) serveMetrics() error {
	if a.cfg.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", a.cfg.MetricsAddr, err)
	}
	a.metricsLn = ln
	a.metricsSv = &http.Server{
		Handler:           a.metrics.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      30 * time.Second,
	}
	go func() {
		if err := a.metricsSv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("metrics listener stopped", "err", err)
		}
	}()
	a.log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return nil
}

// MetricsAddr is the address the metrics listener is bound to ("" when
// metrics are off).
func (a *App) MetricsAddr() string {
	if a.metricsLn == nil {
		return ""
	}
	return a.metricsLn.Addr().String()
}

// auditChainState reads the latest verification of the audit chain for the
// metrics.
func (a *App) auditChainState(ctx context.Context) (metrics.ChainState, error) {
	v, err := a.audit.LastVerification(ctx)
	if err != nil || v == nil {
		return metrics.ChainState{}, err
	}
	return metrics.ChainState{Verified: true, OK: v.OK, At: v.At}, nil
}
