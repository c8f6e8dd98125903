package pretrain

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/train"
)

// TestEvaluateMatchesTheRun checks that Evaluate on a run's best checkpoint
// gives the held-out scores the run logged for it, both from the run's
// tokenized corpus and after that is deleted (tokenized again elsewhere).
func TestEvaluateMatchesTheRun(t *testing.T) {
	cfg, raw := smallConfig(t, filepath.Join(t.TempDir(), "run"), 10)
	if err := Run(context.Background(), cfg, raw, run.New, io.Discard); err != nil {
		t.Fatal(err)
	}
	var logged map[string]float64
	f, err := os.Open(filepath.Join(cfg.Output, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var state train.State
	b, err := os.ReadFile(filepath.Join(cfg.Output, "checkpoints", "best", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &state); err != nil {
		t.Fatal(err)
	}
	for sc := bufio.NewScanner(f); sc.Scan(); {
		var rec struct {
			Split string  `json:"split"`
			Step  int     `json:"step"`
			Loss  float64 `json:"loss"`
			Acc   float64 `json:"mlm_accuracy"`
			UAcc  float64 `json:"unigram_accuracy"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Split == "heldout" && rec.Step == state.BestStep {
			logged = map[string]float64{"loss": rec.Loss, "acc": rec.Acc, "unigram": rec.UAcc}
		}
	}
	if logged == nil {
		t.Fatalf("no held-out record for the best step %d", state.BestStep)
	}
	best := filepath.Join(cfg.Output, "checkpoints", "best")
	for _, fresh := range []bool{false, true} {
		if fresh {
			if err := os.RemoveAll(filepath.Join(cfg.Output, "data")); err != nil {
				t.Fatal(err)
			}
		}
		e, base, err := Evaluate(cfg, best, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(e.Loss-logged["loss"]) > 1e-5 || e.Accuracy != logged["acc"] || base.Accuracy != logged["unigram"] {
			t.Errorf("fresh data %v: loss %.6f accuracy %.4f unigram %.4f; the run logged %v", fresh, e.Loss, e.Accuracy, base.Accuracy, logged)
		}
	}
	if _, _, err := Evaluate(cfg, filepath.Join(t.TempDir(), "missing"), io.Discard); err == nil {
		t.Error("a missing checkpoint was accepted")
	}
}
