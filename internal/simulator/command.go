package simulator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// shutdownTimeout bounds the graceful shutdown of the standalone server.
const shutdownTimeout = 5 * time.Second

// Command runs the simulator as a standalone HTTP server ("console
// simulator"). It parses args (the flags after the subcommand name), logs
// with slog to stderr where it listens, and serves until ctx is cancelled,
// then shuts down gracefully. stdout receives only the flag usage on -h
// (and Command then returns flag.ErrHelp).
//
// Flags: --addr (default 127.0.0.1:9800), --ak, --sk, --project-id,
// --servers, --seed, --transition, --latency, --error-rate,
// --throttle-rate, --timeout-rate, --drop-rate, --malformed-rate,
// --fail-servers (comma-separated ids or names), --log-requests.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		addr        = fs.String("addr", "127.0.0.1:9800", "address to listen on (host:port; port 0 picks a free one)")
		ak          = fs.String("ak", "", "access key; with --sk, every request must be SDK-HMAC-SHA256 signed")
		sk          = fs.String("sk", "", "secret key paired with --ak")
		project     = fs.String("project-id", "", "serve only this project id (empty: any)")
		servers     = fs.Int("servers", DefaultServers, "number of servers in the generated fleet")
		seed        = fs.Int64("seed", DefaultSeed, "seed of the generated fleet and of the fault dice")
		transition  = fs.Duration("transition", DefaultTransition, "how long actions stay in their transient state")
		latency     = fs.Duration("latency", 0, "delay added to every response")
		errorRate   = fs.Float64("error-rate", 0, "fraction of requests answered 500 ModelArts.0050")
		throttle    = fs.Float64("throttle-rate", 0, "fraction of requests answered 429 APIGW.0308")
		timeoutRate = fs.Float64("timeout-rate", 0, "fraction of requests applied but never answered")
		dropRate    = fs.Float64("drop-rate", 0, "fraction of connections closed without a response")
		malformed   = fs.Float64("malformed-rate", 0, "fraction of responses sent as truncated JSON")
		failServers = fs.String("fail-servers", "", "comma-separated server ids or names whose actions end *_FAILED")
		logRequests = fs.Bool("log-requests", true, "log one line per request")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, "Usage: console simulator [flags]")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return flag.ErrHelp
		}
		return fmt.Errorf("simulator: %w (see --help)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("simulator: unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if (*ak == "") != (*sk == "") {
		return errors.New("simulator: --ak and --sk must be given together")
	}
	if *servers < 1 || *servers > 100_000 {
		return fmt.Errorf("simulator: --servers must be between 1 and 100000, not %d", *servers)
	}
	if *transition <= 0 {
		return fmt.Errorf("simulator: --transition must be positive, not %s", *transition)
	}
	if *latency < 0 {
		return fmt.Errorf("simulator: --latency must not be negative, not %s", *latency)
	}
	rates := []struct {
		name string
		v    float64
	}{{"error-rate", *errorRate}, {"throttle-rate", *throttle}, {"timeout-rate", *timeoutRate}, {"drop-rate", *dropRate}, {"malformed-rate", *malformed}}
	sum := 0.0
	for _, r := range rates {
		if r.v < 0 || r.v > 1 {
			return fmt.Errorf("simulator: --%s must be between 0 and 1, not %g", r.name, r.v)
		}
		sum += r.v
	}
	if sum > 1 {
		return fmt.Errorf("simulator: the fault rates add up to %g; their sum must not exceed 1", sum)
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	opts := Options{
		Servers:    *servers,
		Seed:       *seed,
		Transition: *transition,
		ProjectID:  *project,
		AK:         *ak,
		SK:         *sk,
		Faults: Faults{
			Latency:       *latency,
			ErrorRate:     *errorRate,
			ThrottleRate:  *throttle,
			TimeoutRate:   *timeoutRate,
			DropRate:      *dropRate,
			MalformedRate: *malformed,
			FailServers:   splitList(*failServers),
		},
	}
	if *logRequests {
		opts.Logger = log
	}
	sim := New(opts)
	defer sim.Close()

	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *addr)
	if err != nil {
		return fmt.Errorf("simulator: listen on %s: %w", *addr, err)
	}
	srv := &http.Server{
		Handler:           sim,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := *project
	if served == "" {
		served = "(any)"
	}
	log.Info("ModelArts DevServer simulator listening",
		slog.String("addr", ln.Addr().String()),
		slog.String("endpoint", "http://"+ln.Addr().String()),
		slog.String("project_id", served),
		slog.Bool("aksk_required", *ak != ""),
		slog.Int("servers", *servers),
		slog.Int64("seed", *seed),
		slog.Duration("transition", *transition),
	)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("simulator: serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("simulator shutting down")
	sim.Close() // release requests held by the timeout fault
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("simulator: shutdown: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("simulator: serve: %w", err)
	}
	log.Info("simulator stopped")
	return nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
