package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/hierarchy"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/model"
)

// repeatedFlag collects the values of a flag given several times.
type repeatedFlag []string

func (l *repeatedFlag) String() string { return strings.Join(*l, "; ") }

func (l *repeatedFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// benchRunOptions are the flags of bench --run.
type benchRunOptions struct {
	run, data, dataset, checkpoint string
	merges                         []string
	rounds, batch, threads         int
	profile                        string
}

// benchRun times a fine-tuned run's inference (encoder, heads, decoding)
// on a file under each token merging, in one command so that the speeds
// compare, and prints for each — as a JSON line — its tokens/s, its
// speed-up over the first, the share of positions its merges kept, and
// its scores.
func benchRun(o benchRunOptions, stdout, stderr io.Writer) error {
	if o.data == "" {
		return usageError{"--run needs --data, the file to time and score"}
	}
	if o.rounds < 1 {
		return usageError{"--rounds must be positive"}
	}
	kernels.SetThreads(o.threads)
	m, err := finetune.Open(o.run, o.checkpoint)
	if err != nil {
		return err
	}
	if len(o.merges) == 0 {
		o.merges = []string{"none"}
		if m.Merge() != nil {
			o.merges = append(o.merges, "run")
		}
	}
	own := m.Merge()
	d, err := m.Dataset(o.dataset)
	if err != nil {
		return err
	}
	exs, err := m.ReadInput(d, o.data, true, stderr)
	if err != nil {
		return err
	}
	type arm struct {
		spec   string
		times  []float64
		scores map[string]float64
		kept   float64 // units left by the last merge per position
	}
	arms := make([]*arm, len(o.merges))
	for i, spec := range o.merges {
		if err := applyMerge(m, spec, own); err != nil { // refused before any timing
			return err
		}
		arms[i] = &arm{spec: spec}
	}
	tokens := 0
	for _, ex := range exs {
		tokens += ex.Size()
	}
	stopProfile, err := startProfile(o.profile)
	if err != nil {
		return err
	}
	defer stopProfile()
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	// An untimed pass first (and the scores), then rounds interleaved
	// across the mergings, so that a slow spell of the machine falls on
	// all of them alike.
	for round := -1; round < o.rounds; round++ {
		for _, a := range arms {
			if err := applyMerge(m, a.spec, own); err != nil {
				return err
			}
			m.MergeCounts()
			start := time.Now()
			preds, err := m.Predict(d, exs, o.batch)
			if err != nil {
				return err
			}
			elapsed := time.Since(start).Seconds()
			if round < 0 {
				if a.scores, err = m.Score(d, exs, preds); err != nil {
					return err
				}
				p, u := m.MergeCounts()
				a.kept = 1
				if p > 0 {
					a.kept = float64(u) / float64(p)
				}
				continue
			}
			a.times = append(a.times, elapsed)
		}
	}
	base := 0.0
	for i, a := range arms {
		sort.Float64s(a.times)
		tps := float64(tokens) / a.times[len(a.times)/2]
		if i == 0 {
			base = tps
		}
		rec := map[string]any{"run": o.run, "data": o.data, "merge": a.spec, "tokens": tokens, "rounds": o.rounds,
			"threads": kernels.Threads(), "tokens_per_s": tps, "speedup": tps / base, "kept": a.kept}
		for k, v := range a.scores {
			rec[k] = v
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(a.scores)) {
			parts = append(parts, fmt.Sprintf("%s %.4f", k, a.scores[k]))
		}
		fmt.Fprintf(stderr, "%-48s %8.0f tok/s  ×%.2f  kept %.2f  %s\n", a.spec, tps, tps/base, a.kept, strings.Join(parts, "  "))
	}
	return nil
}

// applyMerge sets the model's merging to spec: "run" for the run's own
// (own), else as --merge reads it.
func applyMerge(m *model.Model, spec string, own *hierarchy.MergeConfig) error {
	if spec == "run" {
		return m.SetMerge(own)
	}
	mc, err := parseMerge(spec)
	if err != nil {
		return err
	}
	if err := m.SetMerge(mc); err != nil {
		return fmt.Errorf("--merge %s: %w", spec, err)
	}
	return nil
}
