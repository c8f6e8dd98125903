package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/export/ort"
	"github.com/hiertune/hiertune/loader/safetensors"
)

// TestExportCheckPredict fine-tunes a tiny run, exports it with --check,
// --bench and --dump, and checks that predict --engine onnx writes what
// predict writes, and that a model file that is not the run's is refused.
func TestExportCheckPredict(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	data, _ := filepath.Abs("../../examples/data")
	dev, _ := filepath.Abs("../../export/testdata/dev.conllu")
	cfg := filepath.Join(dir, "job.yaml")
	yaml := "output: " + filepath.Join(dir, "run") + `
model: tiny-random
word_pooling: {after: 1, mode: mean}
datasets:
  ewt: {format: conllu, train: ` + data + `/ewt-sample-train.conllu, dev: ` + dev + `, limit: 16}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1, mix: {mode: scalar, layers: [0, 1]}}
  - {name: deps, dataset: ewt, type: parse, layer: 2, arc_mlp: 16, rel_mlp: 8}
train: {batch_size: 8, steps: 1, threads: 1, eval_every: 1}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run("finetune", "--config", cfg); code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, errOut)
	}
	runDir, model := filepath.Join(dir, "run"), filepath.Join(dir, "model.onnx")
	for _, args := range [][]string{
		{"export", "--run", runDir},
		{"export", "--run", runDir, "--output", model, "--hidden-states", "one"},
		{"predict", "--run", runDir, "--input", dev, "--output", "-", "--engine", "onnx"},
		{"predict", "--run", runDir, "--input", dev, "--output", "-", "--onnx", model},
		{"predict", "--run", runDir, "--input", dev, "--output", "-", "--engine", "tf", "--onnx", model},
	} {
		if code, _, errOut := run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage): %s", args, code, errOut)
		}
	}
	if code, _, errOut := run("export", "--run", runDir, "--output", model, "--opset", "9"); code != 1 || !strings.Contains(errOut, "opset 9 is not supported") {
		t.Errorf("opset 9: exit %d: %s", code, errOut)
	}
	dump := filepath.Join(dir, "sample.safetensors")
	if code, _, errOut := run("export", "--run", runDir, "--output", model, "--hidden-states", "0,2", "--dump", dump); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	f, err := safetensors.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"input_ids", "word_start", "unit_start", "word_units", "upos.logits", "deps.arc_scores", "hidden_states.2"} {
		if f.Tensors()[name] == nil {
			t.Errorf("the dump lacks %s", name)
		}
	}
	if err := ort.Available(""); err != nil {
		t.Skipf("ONNX Runtime is not available (run scripts/setup.sh; build with cgo): %v", err)
	}
	code, out, errOut := run("export", "--run", runDir, "--output", model, "--check", "--bench", "--threads", "1")
	if code != 0 {
		t.Fatalf("export --check: exit %d: %s", code, errOut)
	}
	for _, name := range []string{"upos.logits", "deps.arc_scores", "deps.label_scores"} {
		if !strings.Contains(errOut, name) {
			t.Errorf("--check does not report %s:\n%s", name, errOut)
		}
	}
	if strings.Contains(errOut, "FAIL") {
		t.Errorf("--check failed:\n%s", errOut)
	}
	var speed map[string]any
	if err := json.Unmarshal([]byte(out), &speed); err != nil || speed["onnxruntime_tokens_per_s"] == nil || speed["hiertune_tokens_per_s"] == nil {
		t.Errorf("--bench: %v: %s", err, out)
	}
	code, want, errOut := run("predict", "--run", runDir, "--input", dev, "--output", "-")
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, errOut)
	}
	code, got, errOut := run("predict", "--run", runDir, "--input", dev, "--output", "-", "--engine", "onnx", "--onnx", model)
	if code != 0 {
		t.Fatalf("predict --engine onnx: exit %d: %s", code, errOut)
	}
	if got != want {
		t.Error("predict --engine onnx writes other predictions than --engine go")
	}
	code, want, errOut = run("eval", "--run", runDir, "--data", dev)
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	code, got, errOut = run("eval", "--run", runDir, "--data", dev, "--engine", "onnx", "--onnx", model)
	if code != 0 || got != want {
		t.Errorf("eval --engine onnx: exit %d, scores %s, want %s: %s", code, got, want, errOut)
	}
	// A graph exported with other tasks is refused before any data is read.
	other := filepath.Join(dir, "other.onnx")
	om := strings.Replace(yaml, "name: deps", "name: heads", 1)
	om = strings.Replace(om, filepath.Join(dir, "run"), filepath.Join(dir, "run2"), 1)
	if err := os.WriteFile(cfg, []byte(om), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := run("finetune", "--config", cfg); code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, errOut)
	}
	if code, _, errOut := run("export", "--run", filepath.Join(dir, "run2"), "--output", other); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	code, _, errOut = run("predict", "--run", runDir, "--input", dev, "--output", "-", "--engine", "onnx", "--onnx", other)
	if code != 1 || !strings.Contains(errOut, `the graph has no output "deps.arc_scores" (was it exported from another run?)`) {
		t.Errorf("another run's model: exit %d: %s", code, errOut)
	}
	garbage := filepath.Join(dir, "garbage.onnx")
	os.WriteFile(garbage, []byte("not a model"), 0o644)
	if code, _, errOut := run("predict", "--run", runDir, "--input", dev, "--output", "-", "--engine", "onnx", "--onnx", garbage); code != 1 || !strings.Contains(errOut, "garbage.onnx") {
		t.Errorf("garbage model: exit %d: %s", code, errOut)
	}
}
