package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/distill"
)

func runDistill(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("distill", "distill --config X.yaml [--output DIR] [--resume]", stdout, stderr)
	config := fs.String("config", "", "the job's YAML configuration (see docs/distillation.md)")
	output := fs.String("output", "", "run directory (overrides the configuration's output)")
	resume := fs.Bool("resume", false, "continue the job in the output directory from its latest checkpoint")
	seed := fs.Int64("seed", -1, "the random seed (overrides the configuration's seed)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *config == "" {
		return usageError{"--config is required"}
	}
	raw, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	cfg, err := distill.ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	if *output != "" {
		cfg.Output = *output
	}
	if *seed >= 0 {
		cfg.Seed = uint64(*seed)
	}
	// The run keeps the configuration as resolved: defaults filled in and
	// the flags applied, so that it says exactly what ran.
	if raw, err = yaml.Marshal(cfg); err != nil {
		return err
	}
	// Ctrl-C (or SIGTERM) lets the current step finish, saves, and exits.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = distill.Run(ctx, cfg, raw, *resume, stderr)
	if errors.Is(err, distill.ErrStopped) {
		return nil
	}
	if err == nil && cfg.Task != nil {
		fmt.Fprintf(stderr, "student: %s (hiertune eval --run %s)\n", distill.StudentRun(cfg.Output), distill.StudentRun(cfg.Output))
	}
	return err
}
