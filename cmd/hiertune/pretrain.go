package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/hiertune/hiertune/pretrain"
)

func runPretrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("pretrain", "pretrain --config X.yaml [--output DIR] [--resume | --restart | --evaluate CHECKPOINT]"+distributedUsage, stdout, stderr)
	job := addJobFlags(fs, "docs/pretraining.md")
	evaluate := fs.String("evaluate", "", "instead of training, score this checkpoint's masked-LM head on the job's held-out text (as JSON)")
	cfg, m, stopProfile, err := startJob(fs, job, args, pretrain.ParseConfig)
	if err != nil {
		return err
	}
	defer stopProfile()
	if *job.output != "" {
		cfg.Output = *job.output
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
	return runJob(cfg, func(ctx context.Context, resolved []byte) error { return pretrain.Run(ctx, cfg, resolved, m, stderr) })
}
