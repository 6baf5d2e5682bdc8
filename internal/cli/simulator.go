package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/devserver-console/console/internal/simulator"
)

// simulatorCmd runs "console simulator [flags]": a standalone ModelArts
// simulator until ctx ends.
//
// Its --ak, --sk and --token are flags on purpose: the simulator is a test
// double, and its keys are made-up test credentials that the caller chooses
// so the console's signer can be checked against it — never cloud
// credentials.
func simulatorCmd(ctx context.Context, args []string, env IO) error {
	fs := flagSet("simulator", "[flags]", env)
	var (
		o           simulator.Options
		addr        = fs.String("addr", "127.0.0.1:9800", "address to listen on (host:port; port 0 picks a free one)")
		failServers = fs.String("fail-servers", "", "comma-separated server ids or names whose actions end *_FAILED")
		logRequests = fs.Bool("log-requests", true, "log one line per request")
	)
	fs.StringVar(&o.AK, "ak", "", "test access key; with --sk, every request must be SDK-HMAC-SHA256 signed (made-up test keys, not cloud credentials)")
	fs.StringVar(&o.SK, "sk", "", "test secret key paired with --ak")
	fs.StringVar(&o.Token, "token", "", "test IAM token; requests must carry it in X-Auth-Token (or, with --ak/--sk, a signature)")
	fs.StringVar(&o.ProjectID, "project-id", "", "serve only this project id (empty: any)")
	fs.IntVar(&o.Servers, "servers", simulator.DefaultServers, "number of servers in the generated fleet")
	fs.Int64Var(&o.Seed, "seed", simulator.DefaultSeed, "seed of the generated fleet and of the fault dice")
	fs.DurationVar(&o.Transition, "transition", simulator.DefaultTransition, "how long actions stay in their transient state")
	fs.DurationVar(&o.Faults.Latency, "latency", 0, "delay added to every response")
	fs.Float64Var(&o.Faults.ErrorRate, "error-rate", 0, "fraction of requests answered 500 ModelArts.0050")
	fs.Float64Var(&o.Faults.ThrottleRate, "throttle-rate", 0, "fraction of requests answered 429 APIGW.0308")
	fs.Float64Var(&o.Faults.TimeoutRate, "timeout-rate", 0, "fraction of requests applied but never answered")
	fs.Float64Var(&o.Faults.DropRate, "drop-rate", 0, "fraction of connections closed without a response")
	fs.Float64Var(&o.Faults.MalformedRate, "malformed-rate", 0, "fraction of responses sent as truncated JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("simulator: unexpected arguments: %s", strings.Join(pos, " "))
	}
	for item := range strings.SplitSeq(*failServers, ",") {
		if item = strings.TrimSpace(item); item != "" {
			o.Faults.FailServers = append(o.Faults.FailServers, item)
		}
	}
	if err := o.Validate(); err != nil {
		return usagef("simulator: %v", err)
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, nil))
	if *logRequests {
		o.Logger = log
	}
	if err := simulator.ListenAndServe(ctx, *addr, o, log); err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	return nil
}
