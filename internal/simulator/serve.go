package simulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// shutdownTimeout bounds the graceful shutdown of the standalone server.
const shutdownTimeout = 5 * time.Second

// Validate checks options given by a person (the standalone simulator's
// command line) and names every bad one.
func (o Options) Validate() error {
	var errs []error
	if (o.AK == "") != (o.SK == "") {
		errs = append(errs, errors.New("the access key and the secret key must be given together"))
	}
	if o.Servers < 1 || o.Servers > 100_000 {
		errs = append(errs, fmt.Errorf("servers must be between 1 and 100000, not %d", o.Servers))
	}
	if o.Transition <= 0 {
		errs = append(errs, fmt.Errorf("transition must be positive, not %s", o.Transition))
	}
	if o.Faults.Latency < 0 {
		errs = append(errs, fmt.Errorf("latency must not be negative, not %s", o.Faults.Latency))
	}
	rates := []struct {
		name string
		v    float64
	}{
		{"error-rate", o.Faults.ErrorRate}, {"throttle-rate", o.Faults.ThrottleRate}, {"timeout-rate", o.Faults.TimeoutRate},
		{"drop-rate", o.Faults.DropRate}, {"malformed-rate", o.Faults.MalformedRate},
	}
	sum := 0.0
	for _, r := range rates {
		if r.v < 0 || r.v > 1 {
			errs = append(errs, fmt.Errorf("%s must be between 0 and 1, not %g", r.name, r.v))
		}
		sum += r.v
	}
	if sum > 1 {
		errs = append(errs, fmt.Errorf("the fault rates add up to %g; their sum must not exceed 1", sum))
	}
	return errors.Join(errs...)
}

// ListenAndServe runs a simulator with opts as a standalone HTTP server on
// addr ("console simulator"), logging where it listens to log, until ctx is
// cancelled; then it shuts down gracefully.
func ListenAndServe(ctx context.Context, addr string, opts Options, log *slog.Logger) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	sim := New(opts)
	defer sim.Close()

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           sim,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := opts.ProjectID
	if served == "" {
		served = "(any)"
	}
	log.Info("ModelArts DevServer simulator listening",
		slog.String("addr", ln.Addr().String()),
		slog.String("endpoint", "http://"+ln.Addr().String()),
		slog.String("project_id", served),
		slog.Bool("aksk_required", opts.AK != ""),
		slog.Bool("token_accepted", opts.Token != ""),
		slog.Int("servers", sim.opts.Servers),
		slog.Int64("seed", sim.opts.Seed),
		slog.Duration("transition", sim.opts.Transition),
	)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("simulator shutting down")
	sim.Close() // release requests held by the timeout fault
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("simulator stopped")
	return nil
}
