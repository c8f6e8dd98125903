package main

import (
	"context"
	"fmt"
	"io"

	"github.com/hiertune/hiertune/distill"
)

func runDistill(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("distill", "distill --config X.yaml [--output DIR] [--seed N] [--resume | --restart]"+distributedUsage, stdout, stderr)
	job := addJobFlags(fs, "docs/distillation.md")
	seed := fs.Int64("seed", -1, "the random seed (overrides the configuration's seed)")
	cfg, m, stopProfile, err := startJob(fs, job, args, distill.ParseConfig)
	if err != nil {
		return err
	}
	defer stopProfile()
	if *job.output != "" {
		cfg.Output = *job.output
	}
	if *seed >= 0 {
		cfg.Seed = uint64(*seed)
	}
	err = runJob(cfg, func(ctx context.Context, resolved []byte) error { return distill.Run(ctx, cfg, resolved, m, stderr) })
	if err == nil && cfg.Task != nil {
		fmt.Fprintf(stderr, "student: %s (hiertune eval --run %s)\n", distill.StudentRun(cfg.Output), distill.StudentRun(cfg.Output))
	}
	return err
}
