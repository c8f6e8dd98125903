package finetune

import (
	"context"
	"io"
	"math"
	"path/filepath"
	"testing"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/run"
)

// scaleHook weights the tasks' own losses by hard and adds no loss of its
// own, so that the logged losses show the weighting alone.
type scaleHook struct {
	hard    float64
	planned int
	keys    [][]int
}

func (h *scaleHook) Labels() map[string][]string                       { return nil }
func (h *scaleHook) Attach(*model.Model) ([]encoder.NamedParam, error) { return nil, nil }
func (h *scaleHook) Plan(steps, _ int)                                 { h.planned = steps }
func (h *scaleHook) Options(int, *Batch, *encoder.Options)             {}
func (h *scaleHook) Loss(_ int, b *Batch, _ *encoder.Result) (Losses, error) {
	h.keys = append(h.keys, b.Keys)
	return Losses{Hard: h.hard}, nil
}

// TestHookWeightsTheTaskLosses runs one step with and without a hook that
// halves the gold-label losses: the logged losses halve, the hook sees
// the run's length and each example's index in the training set.
func TestHookWeightsTheTaskLosses(t *testing.T) {
	body := `datasets:
  ewt: {format: conllu, train: ` + ewtTrain + `, limit: 8}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
train: {batch_size: 8, steps: 1, threads: 1}
`
	dir := t.TempDir()
	cfg, raw := jobConfig(t, filepath.Join(dir, "plain"), body)
	if err := Run(context.Background(), cfg, raw, run.New, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	hooked, rawHooked := jobConfig(t, filepath.Join(dir, "hooked"), body)
	h := &scaleHook{hard: 0.5}
	if err := Run(context.Background(), hooked, rawHooked, run.New, io.Discard, h); err != nil {
		t.Fatal(err)
	}
	loss := func(run string) float64 {
		for _, m := range metricsLines(t, filepath.Join(dir, run)) {
			if v, ok := m["loss_upos"].(float64); ok {
				return v
			}
		}
		t.Fatalf("%s logged no loss_upos", run)
		return 0
	}
	if plain, half := loss("plain"), loss("hooked"); math.Abs(half-plain/2) > 1e-12 {
		t.Errorf("hard weight 0.5: loss %v, want half of %v", half, plain)
	}
	if h.planned != 1 || len(h.keys) != 1 || len(h.keys[0]) != 8 {
		t.Fatalf("planned %d steps, saw keys %v", h.planned, h.keys)
	}
	seen := map[int]bool{}
	for _, k := range h.keys[0] {
		if k < 0 || k >= 8 || seen[k] {
			t.Errorf("keys %v are not the 8 training examples' indices", h.keys[0])
		}
		seen[k] = true
	}
}
