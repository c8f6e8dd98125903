package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/pretrain"
)

func runPretrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pretrain", "pretrain --config X.yaml [--output DIR] [--resume | --restart | --evaluate CHECKPOINT]", stdout, stderr)
	config := fs.String("config", "", "the job's YAML configuration (see docs/pretraining.md)")
	output := fs.String("output", "", "run directory (overrides the configuration's output)")
	mode := modeFlags(fs)
	evaluate := fs.String("evaluate", "", "instead of training, score this checkpoint's masked-LM head on the job's held-out text (as JSON)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file (for go tool pprof)")
	if err := parse(fs, args); err != nil {
		return err
	}
	m, err := mode()
	if err != nil {
		return err
	}
	cfg, err := readConfig(*config, pretrain.ParseConfig)
	if err != nil {
		return err
	}
	stopProfile, err := startProfile(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
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
	// The run keeps the configuration as resolved: defaults filled in and
	// the flags applied, so that it says exactly what ran.
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	return runJob(func(ctx context.Context) error { return pretrain.Run(ctx, cfg, raw, m, stderr) })
}
