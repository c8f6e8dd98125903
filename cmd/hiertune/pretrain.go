package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/hiertune/hiertune/pretrain"
)

func runPretrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pretrain", "pretrain --config X.yaml [--output DIR] [--resume | --evaluate CHECKPOINT]", stdout, stderr)
	config := fs.String("config", "", "the job's YAML configuration (see docs/pretraining.md)")
	output := fs.String("output", "", "run directory (overrides the configuration's output)")
	resume := fs.Bool("resume", false, "continue the run in the output directory from its latest checkpoint")
	evaluate := fs.String("evaluate", "", "instead of training, score this checkpoint's masked-LM head on the job's held-out text (as JSON)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for go tool pprof)")
	if err := parse(fs, args); err != nil {
		return err
	}
	stopProfile, err := startProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	if *config == "" {
		return usageError{"--config is required"}
	}
	raw, err := os.ReadFile(*config)
	if err != nil {
		return err
	}
	cfg, err := pretrain.ParseConfig(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", *config, err)
	}
	if *output != "" {
		cfg.Output = *output
	}
	if *evaluate != "" {
		e, base, err := pretrain.Evaluate(cfg, *evaluate, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "%s on %d held-out masked tokens: loss %.4f, perplexity %.2f, masked-token accuracy %.4f (unigram baseline: perplexity %.2f, accuracy %.4f)\n",
			*evaluate, e.Masked, e.Loss, e.Perplexity, e.Accuracy, base.Perplexity, base.Accuracy)
		return json.NewEncoder(stdout).Encode(map[string]any{"checkpoint": *evaluate, "masked_tokens": e.Masked,
			"loss": e.Loss, "perplexity": e.Perplexity, "mlm_accuracy": e.Accuracy,
			"unigram_perplexity": base.Perplexity, "unigram_accuracy": base.Accuracy})
	}
	// Ctrl-C (or SIGTERM) lets the current step finish, saves, and exits.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err = pretrain.Run(ctx, cfg, raw, *resume, stderr)
	if errors.Is(err, pretrain.ErrStopped) {
		return nil
	}
	return err
}
