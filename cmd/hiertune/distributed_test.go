package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMain lets mpirun start this test binary as hiertune itself.
func TestMain(m *testing.M) {
	if os.Getenv("HIERTUNE_AS_MAIN") == "1" {
		os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// mpirunHiertune runs hiertune's command line as n ranks.
func mpirunHiertune(t *testing.T, n int, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev); scripts/setup.sh installs it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mpirun", append([]string{"-np", strconv.Itoa(n), "--oversubscribe", "-x", "HIERTUNE_AS_MAIN", "-x", "HIERTUNE_CACHE", os.Args[0]}, args...)...)
	cmd.Env = append(os.Environ(), "HIERTUNE_AS_MAIN=1", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestDataParallelIsExact trains the same job on one process and on two
// ranks under mpirun: an update's two batches are computed one per rank
// and their gradients summed, which is what one process accumulating them
// computes — the weights come out identical (a sum of two floats does not
// depend on its order; with more ranks they would agree to float-summation
// error), and so do the dev scores.
func TestDataParallelIsExact(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	data, _ := filepath.Abs("../../examples/data")
	cfg := filepath.Join(dir, "job.yaml")
	yaml := `output: unused
model: tiny-random
datasets:
  ewt: {format: conllu, train: ` + data + `/ewt-sample-train.conllu, dev: ` + data + `/ewt-sample-dev.conllu, limit: 48}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
  - {name: deps, dataset: ewt, type: parse, layer: 2, arc_mlp: 16, rel_mlp: 8}
train: {batch_size: 8, accumulate: 2, steps: 8, threads: 1, eval_every: 4, learning_rate: 1e-3, head_learning_rate: 1e-2}
`
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	one, two := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	if code, _, errOut := run("finetune", "--config", cfg, "--output", one); code != 0 {
		t.Fatalf("one process: exit %d: %s", code, errOut)
	}
	if out, err := mpirunHiertune(t, 2, "finetune", "--config", cfg, "--output", two); err != nil {
		t.Fatalf("two ranks: %v\n%s", err, out)
	}
	for _, f := range []string{"model.safetensors", "heads.safetensors", "optimizer.safetensors"} {
		a, _ := os.ReadFile(filepath.Join(one, "checkpoints", "step-0000008", f))
		b, _ := os.ReadFile(filepath.Join(two, "checkpoints", "step-0000008", f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between one process and two ranks", f)
		}
	}
	devScores := func(run string) string {
		b, err := os.ReadFile(filepath.Join(run, "metrics.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		var last string
		for _, line := range strings.Split(string(b), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["split"] == "dev" {
				last = fmt.Sprint(m["ewt.upos"], " ", m["ewt.las"])
			}
		}
		return last
	}
	if a, b := devScores(one), devScores(two); a == "" || a != b {
		t.Errorf("dev scores: one process %q, two ranks %q", a, b)
	}
	// An accumulation the ranks cannot share is refused with what to do.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(yaml, "accumulate: 2", "accumulate: 1", 1)), 0o644)
	if out, err := mpirunHiertune(t, 2, "finetune", "--config", bad, "--output", filepath.Join(dir, "bad")); err == nil || !strings.Contains(out, "not a multiple of the 2 ranks") {
		t.Errorf("accumulate 1 on 2 ranks: %v\n%s", err, out)
	}
}
