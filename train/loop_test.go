package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/run"
)

// toy is a job that trains a linear classifier on fixed random points:
// enough for the loop's mechanics. Its evaluations report values given by
// the test, its loss can be made NaN at one step, and it counts the
// batches it drew (its state).
type toy struct {
	lin    *encoder.Linear
	x      *kernels.Matrix
	gold   []int
	evals  []float64 // the values Evaluate reports, in turn
	nanAt  int       // a step whose loss is NaN (0: none)
	drawn  int
	evaled int
}

func newToy() *toy {
	rng := rand.New(rand.NewPCG(1, 2))
	t := &toy{lin: encoder.NewLinear(3, 2), gold: []int{0, 1, 1, 0}}
	encoder.InitNormal(t.lin.Weight, 0.5, rng)
	x := make([]float32, 12)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	t.x = kernels.NewMatrix(4, 3, x)
	return t
}

func (t *toy) params() []encoder.NamedParam {
	return []encoder.NamedParam{{Name: "w", Param: t.lin.Weight, Shape: []int{2, 3}}, {Name: "b", Param: t.lin.Bias, Shape: []int{2}}}
}

func (t *toy) Step(s int) (Stats, error) {
	t.drawn++
	loss, err := kernels.CrossEntropy(t.lin.Forward(t.x), t.gold, -100)
	if err != nil {
		return Stats{}, err
	}
	v := float64(kernels.Values(loss)[0])
	if s+1 == t.nanAt {
		v = math.NaN()
	}
	return Stats{Tokens: 4, Losses: map[string]float64{"toy": v}}, kernels.Backward(loss)
}

func (t *toy) Evaluate(int) (*Scores, error) {
	if t.evaled >= len(t.evals) {
		return nil, nil
	}
	t.evaled++
	return &Scores{Split: "dev", Values: map[string]float64{"loss": t.evals[t.evaled-1]}}, nil
}

func (t *toy) Files() (map[string][]byte, error) {
	b, err := safetensors.Encode(encoder.Tensors(t.params()), nil)
	return map[string][]byte{"weights.safetensors": b}, err
}

func (t *toy) State() any { return t.drawn }

func (t *toy) Restore(raw json.RawMessage) error { return json.Unmarshal(raw, &t.drawn) }

// loop returns a loop over the toy in a new run directory.
func loop(t *testing.T, dir string, cfg Config, steps int, job *toy, resume bool) *Loop {
	t.Helper()
	mode := run.New
	if resume {
		mode = run.Continue
	}
	d, err := run.Start(dir, []byte("toy\n"), mode)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &Loop{Config: &cfg, Dir: d, Log: io.Discard, Steps: steps, PerEpoch: 2, Select: "loss",
		Groups: []Group{{Name: "toy", Params: job.params(), LR: 0.1, Metric: "lr"}}}
}

func base() Config {
	return Config{BatchSize: 4, LearningRate: 0.1, Clip: 1, Accumulate: 1, Keep: 10, EvalEvery: Every{Steps: 1}}
}

func records(t *testing.T, dir string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// TestNonFiniteLossStopsWithoutSaving checks the guard: a NaN loss at step
// 3 stops the run before the update, names the step and the checkpoint
// kept, and saves nothing after step 2.
func TestNonFiniteLossStopsWithoutSaving(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	job := newToy()
	job.nanAt = 3
	l := loop(t, dir, base(), 6, job, false)
	err := l.Run(context.Background(), job, "")
	if err == nil || !strings.Contains(err.Error(), "step 3: the loss is NaN") || !strings.Contains(err.Error(), "step-0000002, is kept") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "checkpoints", "step-0000003")); err == nil {
		t.Error("a checkpoint was saved after the loss turned NaN")
	}
	last := records(t, dir)
	if rec := last[len(last)-1]; rec["event"] != "diverged" || rec["step"] != float64(3) {
		t.Errorf("last record %v, want the diverged event", rec)
	}
}

// TestTimeLimitSavesAndStops checks that a run out of time saves a
// checkpoint it can resume from and returns ErrStopped.
func TestTimeLimitSavesAndStops(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	job := newToy()
	cfg := base()
	cfg.TimeLimit = Duration{time.Nanosecond}
	l := loop(t, dir, cfg, 6, job, false)
	if err := l.Run(context.Background(), job, ""); !errors.Is(err, ErrStopped) {
		t.Fatalf("got %v, want ErrStopped", err)
	}
	if job.drawn > 1 {
		t.Errorf("%d steps ran past the time limit", job.drawn)
	}
	if _, err := l.Dir.Latest(); err != nil {
		t.Errorf("no checkpoint to resume from: %v", err)
	}
}

// TestSelectionPatienceAndAccumulation checks that the lowest loss is
// the best checkpoint, that patience stops a run that stopped improving,
// and that with accumulation the weights change only every other step.
func TestSelectionPatienceAndAccumulation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	job := newToy()
	job.evals = []float64{3, 2, 2.5, 2.2, 1}
	cfg := base()
	cfg.Patience, cfg.Accumulate = 2, 2
	l := loop(t, dir, cfg, 10, job, false)
	var w []float32
	changed := map[int]bool{}
	l.AfterStep = func(step int) {
		v := append([]float32(nil), kernels.Values(job.lin.Weight)...)
		changed[step] = w != nil && !slices.Equal(v, w)
		w = v
	}
	if err := l.Run(context.Background(), job, ""); err != nil {
		t.Fatal(err)
	}
	if job.drawn != 4 {
		t.Errorf("ran %d steps, want 4 (patience 2 after the best at step 2)", job.drawn)
	}
	if changed[3] || !changed[4] {
		t.Errorf("weights changed at steps %v; with accumulate 2, at 2 and 4 only", changed)
	}
	var state State
	b, _ := os.ReadFile(filepath.Join(dir, "checkpoints", "best", "state.json"))
	if err := json.Unmarshal(b, &state); err != nil || state.BestStep != 2 || state.Best != 2 {
		t.Errorf("best: %+v (%v), want loss 2 at step 2", state, err)
	}
}

// TestResumeIsExact interrupts a run of 120 steps at step 60 and resumes
// it: the weights, the optimiser's state, the job's state and the records
// logged (timing apart) equal an uninterrupted run's — also when a killed
// process had logged records after its last checkpoint, which the resumed
// run drops and logs again.
func TestResumeIsExact(t *testing.T) {
	tmp := t.TempDir()
	a := newToy()
	if err := loop(t, filepath.Join(tmp, "a"), base(), 120, a, false).Run(context.Background(), a, ""); err != nil {
		t.Fatal(err)
	}
	b := newToy()
	dirB := filepath.Join(tmp, "b")
	l := loop(t, dirB, base(), 120, b, false)
	ctx, cancel := context.WithCancel(context.Background())
	l.AfterStep = func(step int) {
		if step == 60 {
			cancel()
		}
	}
	if err := l.Run(ctx, b, ""); !errors.Is(err, ErrStopped) {
		t.Fatalf("interrupted run: %v", err)
	}
	l.Dir.Close()
	// What a process killed at step 110 would have logged since.
	var killed []byte
	for _, r := range records(t, filepath.Join(tmp, "a")) {
		if step := r["step"].(float64); step > 60 && step < 120 {
			line, _ := json.Marshal(r)
			killed = append(append(killed, line...), '\n')
		}
	}
	if len(killed) == 0 {
		t.Fatal("the uninterrupted run logged nothing between steps 60 and 120")
	}
	f, err := os.OpenFile(filepath.Join(dirB, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(killed)
	f.Close()
	resumed := newToy()
	l = loop(t, dirB, base(), 120, resumed, true)
	latest, err := l.Dir.Latest()
	if err != nil {
		t.Fatal(err)
	}
	w, err := safetensors.ReadFile(filepath.Join(latest, "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if err := encoder.LoadTensors(resumed.params(), w.Tensors()); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(context.Background(), resumed, latest); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"weights.safetensors", "optimizer.safetensors"} {
		x, _ := os.ReadFile(filepath.Join(tmp, "a", "checkpoints", "step-0000120", name))
		y, _ := os.ReadFile(filepath.Join(dirB, "checkpoints", "step-0000120", name))
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between the uninterrupted and the resumed run", name)
		}
	}
	if resumed.drawn != 120 {
		t.Errorf("the job's state: %d batches drawn, want 120", resumed.drawn)
	}
	var got []map[string]any
	for _, r := range untimed(records(t, dirB)) {
		if r["event"] == nil { // the interruption's own record
			got = append(got, r)
		}
	}
	if want := untimed(records(t, filepath.Join(tmp, "a"))); !reflect.DeepEqual(got, want) {
		t.Errorf("records of the resumed run:\n%v\nwant\n%v", got, want)
	}
}

// untimed drops the fields that vary from run to run: time and speed.
func untimed(recs []map[string]any) []map[string]any {
	for _, r := range recs {
		for k := range r {
			if k == "time" || strings.HasSuffix(k, "per_s") || strings.HasSuffix(k, "seconds") {
				delete(r, k)
			}
		}
	}
	return recs
}

// TestValidate checks that every out-of-range value is refused, naming
// its key.
func TestValidate(t *testing.T) {
	for key, change := range map[string]func(c *Config){
		"batch_size":         func(c *Config) { c.BatchSize = 0 },
		"learning_rate":      func(c *Config) { c.LearningRate = -1 },
		"head_learning_rate": func(c *Config) { c.HeadLearningRate = -1 },
		"warmup":             func(c *Config) { c.Warmup = 1 },
		"clip":               func(c *Config) { c.Clip = -1 },
		"accumulate":         func(c *Config) { c.Accumulate = 0 },
		"keep":               func(c *Config) { c.Keep = 0 },
		"steps, epochs":      func(c *Config) { c.Steps, c.Epochs = 1, 1 },
	} {
		c := base()
		change(&c)
		if err := c.Validate("train"); err == nil || !strings.Contains(err.Error(), "train."+key) {
			t.Errorf("%s: %v", key, err)
		}
	}
}
