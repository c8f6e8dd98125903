package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/mpi"
)

// TestMain lets mpirun start this test binary as hiertune itself.
func TestMain(m *testing.M) {
	if os.Getenv("HIERTUNE_AS_MAIN") == "1" {
		os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// skipWithoutMPI skips a test that needs mpirun and an MPI-capable build.
func skipWithoutMPI(t *testing.T) {
	t.Helper()
	if !mpi.Native {
		t.Skip("built without cgo: no MPI")
	}
	if _, err := exec.LookPath("mpirun"); err != nil {
		t.Skip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev); scripts/setup.sh installs it")
	}
}

// mpirunHiertune runs hiertune's command line as n ranks.
func mpirunHiertune(t *testing.T, n int, args ...string) (string, error) {
	t.Helper()
	skipWithoutMPI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := mpirunCommand(ctx, n, args...).CombinedOutput()
	return string(out), err
}

// mpirunCommand is the command running hiertune's command line as n ranks
// (this test binary, as TestMain lets it).
func mpirunCommand(ctx context.Context, n int, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "mpirun", append([]string{"-np", strconv.Itoa(n), "--oversubscribe", "-x", "HIERTUNE_AS_MAIN", "-x", "HIERTUNE_CACHE", os.Args[0]}, args...)...)
	cmd.Env = append(os.Environ(), "HIERTUNE_AS_MAIN=1", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	return cmd
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
train: {batch_size: 8, accumulate: 2, steps: 8, threads: 1, eval_every: 4, keep: 2, learning_rate: 1e-3, head_learning_rate: 1e-2}
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
	// Resuming with another number of ranks: a run stopped at step 4 on
	// two ranks finishes on one process, and one stopped on one process
	// finishes on two ranks, with the weights of the uninterrupted run.
	for _, c := range []struct {
		from  string
		ranks int
	}{{two, 1}, {one, 2}} {
		cut := filepath.Join(dir, fmt.Sprintf("cut-%d", c.ranks))
		if err := os.CopyFS(cut, os.DirFS(c.from)); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(filepath.Join(cut, "checkpoints", "step-0000008"))
		os.WriteFile(filepath.Join(cut, "latest"), []byte("step-0000004\n"), 0o644)
		// The run's configuration names its output: the copy's.
		saved, _ := os.ReadFile(filepath.Join(cut, "config.yaml"))
		os.WriteFile(filepath.Join(cut, "config.yaml"), bytes.ReplaceAll(saved, []byte(c.from), []byte(cut)), 0o644)
		var out string
		var err error
		if c.ranks == 1 {
			var code int
			var stdout, stderr string
			code, stdout, stderr = run("finetune", "--config", cfg, "--output", cut, "--resume")
			out = stdout + stderr
			if code != 0 {
				err = fmt.Errorf("exit %d", code)
			}
		} else {
			out, err = mpirunHiertune(t, c.ranks, "finetune", "--config", cfg, "--output", cut, "--resume")
		}
		if err != nil {
			t.Fatalf("resuming on %d ranks: %v\n%s", c.ranks, err, out)
		}
		for _, f := range []string{"model.safetensors", "heads.safetensors", "optimizer.safetensors"} {
			a, _ := os.ReadFile(filepath.Join(one, "checkpoints", "step-0000008", f))
			b, _ := os.ReadFile(filepath.Join(cut, "checkpoints", "step-0000008", f))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("%s differs between the uninterrupted run and the one resumed on %d ranks", f, c.ranks)
			}
		}
	}
	// An accumulation the ranks cannot share is refused with what to do.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte(strings.Replace(yaml, "accumulate: 2", "accumulate: 1", 1)), 0o644)
	if out, err := mpirunHiertune(t, 2, "finetune", "--config", bad, "--output", filepath.Join(dir, "bad")); err == nil || !strings.Contains(out, "not a multiple of the 2 ranks") {
		t.Errorf("accumulate 1 on 2 ranks: %v\n%s", err, out)
	}
}

// TestDeadRankEndsTheRun kills one rank of a two-rank fine-tuning run once
// it has saved a checkpoint: the job ends non-zero within seconds instead
// of hanging in an all-reduce, and the checkpoint it left still loads.
func TestDeadRankEndsTheRun(t *testing.T) {
	skipWithoutMPI(t)
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	data, _ := filepath.Abs("../../examples/data")
	cfg := filepath.Join(dir, "job.yaml")
	os.WriteFile(cfg, []byte(`output: unused
model: tiny-random
datasets:
  ewt: {format: conllu, train: `+data+`/ewt-sample-train.conllu, dev: `+data+`/ewt-sample-dev.conllu, limit: 48}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
train: {batch_size: 8, accumulate: 2, steps: 100000, threads: 1, save_every: 20, learning_rate: 1e-3, time_limit: 2m}
`), 0o644)
	out := filepath.Join(dir, "run")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := mpirunCommand(ctx, 2, "finetune", "--config", cfg, "--output", out)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait for a checkpoint, then kill rank 1.
	for {
		if _, err := os.Stat(filepath.Join(out, "latest")); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the job ended before its first checkpoint: %v\n%s", err, log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	pid := rankPID(t, cmd.Process.Pid, 1)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("the job succeeded with a dead rank:\n%s", log.String())
		}
		t.Logf("ended %s after the kill: %v", time.Since(killed).Round(time.Millisecond), err)
	case <-time.After(30 * time.Second):
		t.Fatalf("the job still runs 30 s after a rank died:\n%s", log.String())
	}
	if code, _, errOut := run("eval", "--run", out, "--checkpoint", "latest", "--data", data+"/ewt-sample-dev.conllu"); code != 0 {
		t.Errorf("the last checkpoint does not load: exit %d: %s", code, errOut)
	}
}

// rankPID finds the process of rank among the children of mpirun.
func rankPID(t *testing.T, mpirun, rank int) int {
	t.Helper()
	want := fmt.Sprintf("OMPI_COMM_WORLD_RANK=%d", rank)
	for range 100 {
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", mpirun, mpirun))
		for _, f := range strings.Fields(string(children)) {
			env, _ := os.ReadFile("/proc/" + f + "/environ")
			if slices.Contains(strings.Split(string(env), "\x00"), want) {
				pid, _ := strconv.Atoi(f)
				return pid
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no child of mpirun (pid %d) is rank %d", mpirun, rank)
	return 0
}

// TestDataParallelPretrainAndDistill runs a short pretraining and a
// distillation (both stages) on one process and on two ranks: the weights
// and the held-out scores agree exactly, as for fine-tuning.
func TestDataParallelPretrainAndDistill(t *testing.T) {
	skipWithoutMPI(t)
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	data, _ := filepath.Abs("../../examples/data")
	conllu, err := os.ReadFile(filepath.Join(data, "ewt-sample-train.conllu"))
	if err != nil {
		t.Fatal(err)
	}
	var text []string
	for _, line := range strings.Split(string(conllu), "\n") {
		if s, ok := strings.CutPrefix(line, "# text = "); ok {
			text = append(text, s)
		}
	}
	corpus := filepath.Join(dir, "corpus.txt")
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(corpus, strings.Join(text, "\n")+"\n")
	write(filepath.Join(dir, "pretrain.yaml"), `output: unused
model: {from: tiny-random}
data: {files: [`+corpus+`], max_length: 32, heldout: 0.1, eval_sequences: 40}
train: {batch_size: 8, accumulate: 2, steps: 6, learning_rate: 1e-3, eval_every: 3, threads: 1}
`)
	write(filepath.Join(dir, "teacher.yaml"), "output: "+filepath.Join(dir, "teacher")+`
model: tiny-random
datasets:
  ewt: {format: conllu, train: `+data+`/ewt-sample-train.conllu, dev: `+data+`/ewt-sample-dev.conllu, limit: 32}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
train: {batch_size: 8, steps: 2, threads: 1}
`)
	write(filepath.Join(dir, "distill.yaml"), `output: unused
teacher: `+filepath.Join(dir, "teacher")+`
student: {layers: 1, hidden: 16, heads: 4, ffn: 32}
general:
  corpus: [`+corpus+`]
  max_length: 32
  train: {batch_size: 8, accumulate: 2, steps: 4, eval_every: 2}
task:
  intermediate: {steps: 2}
  prediction: {steps: 2}
  train: {batch_size: 8, accumulate: 2, eval_every: 2}
threads: 1
`)
	if code, _, errOut := run("finetune", "--config", filepath.Join(dir, "teacher.yaml")); code != 0 {
		t.Fatalf("teacher: exit %d: %s", code, errOut)
	}
	for _, c := range []struct {
		job   string
		files []string // compared between the two runs
	}{
		{"pretrain", []string{"checkpoints/step-0000006/model.safetensors", "checkpoints/step-0000006/optimizer.safetensors"}},
		{"distill", []string{"checkpoints/general/model.safetensors", "student/checkpoints/step-0000004/model.safetensors", "student/checkpoints/step-0000004/heads.safetensors"}},
	} {
		cfg := filepath.Join(dir, c.job+".yaml")
		one, two := filepath.Join(dir, c.job+"-one"), filepath.Join(dir, c.job+"-two")
		if code, _, errOut := run(c.job, "--config", cfg, "--output", one); code != 0 {
			t.Fatalf("%s on one process: exit %d: %s", c.job, code, errOut)
		}
		if out, err := mpirunHiertune(t, 2, c.job, "--config", cfg, "--output", two); err != nil {
			t.Fatalf("%s on two ranks: %v\n%s", c.job, err, out)
		}
		for _, f := range c.files {
			d := maxDifference(t, filepath.Join(one, f), filepath.Join(two, f))
			t.Logf("%s: %s: max |Δ| %.3g", c.job, f, d)
			if d > weightTolerance {
				t.Errorf("%s: %s: the weights of one process and two ranks differ by up to %.3g (> %g)", c.job, f, d, weightTolerance)
			}
		}
		a, b := heldoutRecords(t, one), heldoutRecords(t, two)
		if len(a) == 0 || len(a) != len(b) {
			t.Fatalf("%s: held-out records: one process %v, two ranks %v", c.job, a, b)
		}
		for i := range a {
			for k, v := range a[i] {
				if w, ok := b[i][k].(float64); !ok || math.Abs(w-v.(float64)) > 1e-5*max(1, math.Abs(w)) {
					t.Errorf("%s: held-out record %d: %s is %v on one process, %v on two ranks", c.job, i, k, v, b[i][k])
				}
			}
		}
	}
}

// weightTolerance bounds how far data-parallel weights may drift from one
// process's after a few updates. A parameter whose gradient gathers
// several terms in one batch (the word embeddings, tied to the masked-LM
// decoder; a head fed by a hard and a soft loss) adds them in another order
// when the batches are split over ranks, and float addition is not
// associative; AdamW's update then moves by a few units in the last place
// of the gradient's, times the learning rate.
const weightTolerance = 1e-6

// maxDifference returns the largest |a − b| over the tensors of two
// safetensors files with the same names and shapes.
func maxDifference(t *testing.T, a, b string) float64 {
	t.Helper()
	fa, err := safetensors.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := safetensors.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	var d float64
	for name, ta := range fa.Tensors() {
		tb, ok := fb.Tensor(name)
		if !ok {
			t.Fatalf("%s has %s, %s does not", a, name, b)
		}
		va, _ := ta.Float32()
		vb, _ := tb.Float32()
		if len(va) != len(vb) {
			t.Fatalf("%s: %d values in %s, %d in %s", name, len(va), a, len(vb), b)
		}
		for i := range va {
			d = max(d, math.Abs(float64(va[i])-float64(vb[i])))
		}
	}
	return d
}

// heldoutRecords returns the held-out and dev records of a run's metrics
// (those of its stage-2 student too), without their timing.
func heldoutRecords(t *testing.T, run string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, f := range []string{"metrics.jsonl", "student/metrics.jsonl"} {
		b, err := os.ReadFile(filepath.Join(run, f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil || (m["split"] != "heldout" && m["split"] != "dev") {
				continue
			}
			for k, v := range m {
				if _, ok := v.(float64); !ok || k == "time" || k == "seconds" {
					delete(m, k)
				}
			}
			out = append(out, m)
		}
	}
	return out
}
