package main

import (
	"context"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/distill"
)

func runDistill(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("distill", "distill --config X.yaml [--output DIR] [--resume | --restart]", stdout, stderr)
	config := fs.String("config", "", "the job's YAML configuration (see docs/distillation.md)")
	output := fs.String("output", "", "run directory (overrides the configuration's output)")
	mode := modeFlags(fs)
	seed := fs.Int64("seed", -1, "the random seed (overrides the configuration's seed)")
	if err := parse(fs, args); err != nil {
		return err
	}
	m, err := mode()
	if err != nil {
		return err
	}
	cfg, err := readConfig(*config, distill.ParseConfig)
	if err != nil {
		return err
	}
	if *output != "" {
		cfg.Output = *output
	}
	if *seed >= 0 {
		cfg.Seed = uint64(*seed)
	}
	// The run keeps the configuration as resolved: defaults filled in and
	// the flags applied, so that it says exactly what ran.
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	err = runJob(func(ctx context.Context) error { return distill.Run(ctx, cfg, raw, m, stderr) })
	if err == nil && cfg.Task != nil {
		fmt.Fprintf(stderr, "student: %s (hiertune eval --run %s)\n", distill.StudentRun(cfg.Output), distill.StudentRun(cfg.Output))
	}
	return err
}
