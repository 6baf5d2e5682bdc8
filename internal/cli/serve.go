package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/logging"
)

// serve runs "console serve [flags]": the web console until ctx ends.
func serve(ctx context.Context, args []string, env IO) error {
	cfg, err := config.Load(args, env.Getenv, env.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case errors.As(err, new(*config.ParseError)):
		return &usageError{fmt.Errorf("serve: %w (see 'console serve -h')", err)}
	case err != nil:
		return fmt.Errorf("configuration: %w", err)
	}
	return app.Run(ctx, cfg, logging.New(env.Stderr, cfg.LogLevel, cfg.LogFormat), env.Stdout)
}
