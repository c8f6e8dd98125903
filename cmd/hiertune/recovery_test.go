package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	rundir "github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/train"
)

// TestRecoverFromAKillBeforeTheFirstCheckpoint checks the ways out of a
// run killed before its first checkpoint: starting it again says to use
// --restart, --resume starts from step 0, and --restart starts it over;
// and that predict refuses to write over its input.
func TestRecoverFromAKillBeforeTheFirstCheckpoint(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	data, _ := filepath.Abs("../../examples/data")
	out := filepath.Join(dir, "run")
	cfg := filepath.Join(dir, "job.yaml")
	os.WriteFile(cfg, []byte("output: "+out+`
model: tiny-random
datasets:
  ewt: {format: conllu, train: `+data+`/ewt-sample-train.conllu, dev: `+data+`/ewt-sample-dev.conllu, limit: 16}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
train: {batch_size: 8, steps: 2, threads: 1, eval_every: 2}
`), 0o644)
	// What a kill leaves: the run's directory and configuration, no
	// checkpoint. The configuration is the one the command would save.
	if code, _, errOut := run("finetune", "--config", cfg); code != 0 {
		t.Fatalf("finetune: exit %d: %s", code, errOut)
	}
	saved, _ := os.ReadFile(filepath.Join(out, "config.yaml"))
	os.RemoveAll(out)
	d, err := rundir.Create(out, saved)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if code, _, errOut := run("finetune", "--config", cfg); code != 1 || !strings.Contains(errOut, "has no checkpoint yet: start over with --restart") {
		t.Errorf("starting again: exit %d: %s", code, errOut)
	}
	if code, _, errOut := run("finetune", "--config", cfg, "--resume"); code != 0 || !strings.Contains(errOut, "no checkpoint yet: starting from step 0") {
		t.Errorf("--resume: exit %d: %s", code, errOut)
	}
	if code, _, errOut := run("finetune", "--config", cfg, "--restart"); code != 0 {
		t.Errorf("--restart: exit %d: %s", code, errOut)
	}
	if code, _, errOut := run("finetune", "--config", cfg, "--resume", "--restart"); code != 2 || !strings.Contains(errOut, "exclude each other") {
		t.Errorf("--resume --restart: exit %d: %s", code, errOut)
	}
	gold := filepath.Join(dir, "gold.conllu")
	b, _ := os.ReadFile(filepath.Join(data, "ewt-sample-dev.conllu"))
	os.WriteFile(gold, b, 0o644)
	if code, _, errOut := run("predict", "--run", out, "--input", gold, "--output", gold); code != 2 || !strings.Contains(errOut, "is the --input file") {
		t.Errorf("predict over its input: exit %d: %s", code, errOut)
	}
	if after, _ := os.ReadFile(gold); string(after) != string(b) {
		t.Error("the gold file was written over")
	}
	if code, _, errOut := run("predict", "--run", out, "--input", gold, "--output", gold, "--force"); code != 0 {
		t.Errorf("predict --force: exit %d: %s", code, errOut)
	}
}

// TestInterruptedJobExits130 checks that a job stopped by SIGINT (after
// saving) ends the command with status 130, so that a chain of commands
// stops there.
func TestInterruptedJobExits130(t *testing.T) {
	err := runJob(struct{}{}, func(ctx context.Context, _ []byte) error {
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		<-ctx.Done()
		return train.ErrStopped
	})
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 130 {
		t.Fatalf("got %v, want exit status 130", err)
	}
	// Out of time, the job stopped as planned: a clean exit.
	if err := runJob(struct{}{}, func(context.Context, []byte) error { return train.ErrStopped }); err != nil {
		t.Errorf("a job stopped at its time limit: %v", err)
	}
}
