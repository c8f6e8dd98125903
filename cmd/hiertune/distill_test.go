package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDistillEvalPredict fine-tunes a tiny teacher, distils it into a
// 1-layer student through the CLI, resumes the finished job, and reads the
// student with eval and predict.
func TestDistillEvalPredict(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	data, _ := filepath.Abs("../../examples/data")
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	teacher := write("teacher.yaml", "output: "+filepath.Join(dir, "teacher")+`
model: tiny-random
datasets:
  ewt: {format: conllu, train: `+data+`/ewt-sample-train.conllu, dev: `+data+`/ewt-sample-dev.conllu, limit: 16}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
  - {name: deps, dataset: ewt, type: parse, layer: 2, arc_mlp: 8, rel_mlp: 8}
train: {batch_size: 8, steps: 2, threads: 1, eval_every: 2}
`)
	job := write("distill.yaml", "output: "+filepath.Join(dir, "distill")+`
teacher: `+filepath.Join(dir, "teacher")+`
student: {layers: 1, hidden: 16, heads: 4, ffn: 32}
task:
  intermediate: {steps: 1}
  prediction: {steps: 2}
  train: {batch_size: 8}
threads: 1
`)
	if code, _, errOut := run("finetune", "--config", teacher); code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, errOut)
	}
	if code, _, errOut := run("distill", "--config", job); code != 0 || !strings.Contains(errOut, "student: ") {
		t.Fatalf("distill: exit %d: %s", code, errOut)
	}
	if code, _, errOut := run("distill", "--config", job, "--resume"); code != 0 {
		t.Fatalf("distill --resume of a finished job: exit %d: %s", code, errOut)
	}
	student := filepath.Join(dir, "distill", "student")
	code, out, errOut := run("eval", "--run", student, "--data", data+"/ewt-sample-dev.conllu")
	if code != 0 || !strings.Contains(out, "ewt.las") {
		t.Fatalf("eval: exit %d: %s%s", code, out, errOut)
	}
	pred := filepath.Join(dir, "pred.conllu")
	if code, _, errOut := run("predict", "--run", student, "--input", data+"/ewt-sample-dev.conllu", "--output", pred); code != 0 {
		t.Fatalf("predict: exit %d: %s", code, errOut)
	}
	if b, err := os.ReadFile(pred); err != nil || !strings.Contains(string(b), "# text = ") {
		t.Errorf("predict wrote %d bytes: %v", len(b), err)
	}
	if code, _, _ := run("distill"); code != 2 {
		t.Errorf("distill without --config: exit %d, want 2", code)
	}
}
