package distill

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/train"
)

// sample data shipped with the repository
const (
	ewtTrain = "../examples/data/ewt-sample-train.conllu"
	ewtDev   = "testdata/dev.conllu" // the sample's first 24 sentences
)

// teacherDir holds the fine-tuned teachers the tests share (made once,
// by TestMain).
var teacherDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "distill-test-")
	if err != nil {
		panic(err)
	}
	teacherDir = dir
	os.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// hierTasks are UPOS and features at layer 1 and parsing at layer 2.
const hierTasks = `tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
  - {name: feats, dataset: ewt, type: feats, layer: 1}
  - {name: deps, dataset: ewt, type: parse, layer: 2, arc_mlp: 16, rel_mlp: 8}
`

var teachers = map[string]string{}

// teacherRun returns a run that fine-tuned the embedded 2-layer, 32-wide
// tiny-random checkpoint for a few steps on the tasks given, made the
// first time a test asks for it.
func teacherRun(t *testing.T, name, tasks string) string {
	t.Helper()
	out := filepath.Join(teacherDir, name)
	if _, ok := teachers[name]; ok {
		return out
	}
	raw := []byte("output: " + out + `
model: tiny-random
datasets:
  ewt: {format: conllu, train: ` + ewtTrain + `, dev: ` + ewtDev + `, limit: 32}
` + tasks + `train: {batch_size: 16, steps: 4, learning_rate: 1e-3, head_learning_rate: 1e-2, threads: 2, eval_every: 4, eval_batch_size: 32}
`)
	cfg, err := finetune.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := finetune.Run(context.Background(), cfg, raw, run.New, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	teachers[name] = out
	return out
}

// twoStage is a job of both stages into a 1-layer, 16-wide student.
func twoStage(out, teacher, extra string) []byte {
	return []byte("output: " + out + "\nteacher: " + teacher + `
teacher_checkpoint: latest
student: {layers: 1, hidden: 16, heads: 4, ffn: 32}
general:
  teacher: tiny-random
  corpus: [testdata/raw.txt]
  heldout: 0.2
  max_length: 32
  train: {batch_size: 8, steps: 3, learning_rate: 1e-3}
task:
  intermediate: {steps: 3}
  prediction: {steps: 4}
  temperature: [2, 1]
  weights: {hard: 0.5}
  train: {batch_size: 16, learning_rate: 1e-3, head_learning_rate: 1e-2, eval_every: 7, eval_batch_size: 32}
threads: 2
` + extra)
}

func runJob(t *testing.T, raw []byte, resume bool) *Config {
	t.Helper()
	cfg, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	mode := run.New
	if resume {
		mode = run.Continue
	}
	if err := Run(context.Background(), cfg, raw, mode, io.Discard); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func lossKeys(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		for k := range m {
			if strings.HasPrefix(k, "loss_") && !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// TestTwoStageJob runs stages 1 and 2 from one configuration and checks
// that the student is a fine-tuning run that opens and evaluates, with
// its tasks at the teacher's relative depths, that every loss was
// trained, and that resuming a finished job changes nothing.
func TestTwoStageJob(t *testing.T) {
	base := t.TempDir()
	teacher := teacherRun(t, "hier", hierTasks)
	out := filepath.Join(base, "distill")
	raw := twoStage(out, teacher, "")
	runJob(t, raw, false)

	if got, want := lossKeys(t, filepath.Join(out, "metrics.jsonl")), []string{"loss_attention", "loss_embeddings", "loss_hidden"}; !slices.Equal(got, want) {
		t.Errorf("stage 1 logged %v, want %v", got, want)
	}
	want := []string{"loss_attention", "loss_deps", "loss_embeddings", "loss_feats", "loss_hidden", "loss_soft_deps.arc", "loss_soft_deps.rel", "loss_soft_feats", "loss_soft_upos", "loss_upos"}
	if got := lossKeys(t, filepath.Join(StudentRun(out), "metrics.jsonl")); !slices.Equal(got, want) {
		t.Errorf("stage 2 logged %v, want %v", got, want)
	}
	m, err := finetune.Open(StudentRun(out), "latest")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Encoder.Layers); n != 1 || m.Encoder.Config.HiddenSize != 16 {
		t.Fatalf("student: %d layers of %d", n, m.Encoder.Config.HiddenSize)
	}
	for _, task := range []string{"upos", "feats", "deps"} {
		if st := m.Task(task); st == nil || st.Layer != 1 {
			t.Errorf("student task %s: %v, want it at layer 1", task, st)
		}
	}
	scores, err := m.Evaluate("", ewtDev, 0, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ewt.upos", "ewt.ufeats", "ewt.uas", "ewt.las"} {
		if v, ok := scores[k]; !ok || v < 0 || v > 1 {
			t.Errorf("%s = %v (%v)", k, v, ok)
		}
	}
	// The teacher's predictions were cached, one record per example.
	if _, err := os.Stat(filepath.Join(out, cacheDir, "upos.bin")); err != nil {
		t.Error(err)
	}
	// Resuming a finished job runs nothing and leaves the student as is.
	before := params(t, m)
	runJob(t, raw, true)
	again, err := finetune.Open(StudentRun(out), "latest")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(before, params(t, again)) {
		t.Error("resuming a finished job changed the student")
	}
}

func params(t *testing.T, m *model.Model) []float32 {
	t.Helper()
	var out []float32
	for _, np := range m.Encoder.NamedParams() {
		out = append(out, kernels.Values(np.Param)...)
	}
	return out
}

// cancelOn cancels a context when the log shows a line containing text.
type cancelOn struct {
	text   string
	cancel context.CancelFunc
}

func (c cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.text) {
		c.cancel()
	}
	return len(p), nil
}

// TestResumeAndCacheAreExact interrupts stage 2 partway and resumes it,
// with the teacher's predictions cached, and checks that the student is
// the one of an uninterrupted run that recomputes the teacher every step.
func TestResumeAndCacheAreExact(t *testing.T) {
	base := t.TempDir()
	teacher := teacherRun(t, "hier", hierTasks)
	plain := strings.Replace(string(twoStage(filepath.Join(base, "plain"), teacher, "")), "eval_every: 7, eval_batch_size: 32}\n", "eval_every: 3, eval_batch_size: 32}\n  cache: false\n", 1)
	ref := runJob(t, []byte(plain), false)

	raw := []byte(strings.Replace(string(twoStage(filepath.Join(base, "resumed"), teacher, "")), "eval_every: 7", "eval_every: 3", 1))
	cfg, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	// Stop after the first dev evaluation of stage 2 (step 3 of 7).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := Run(ctx, cfg, raw, run.New, cancelOn{"dev at step 3", cancel}); err != train.ErrStopped {
		t.Fatalf("interrupted job: %v, want ErrStopped", err)
	}
	runJob(t, raw, true)

	a, err := finetune.Open(StudentRun(ref.Output), "latest")
	if err != nil {
		t.Fatal(err)
	}
	b, err := finetune.Open(StudentRun(cfg.Output), "latest")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(params(t, a), params(t, b)) {
		t.Error("the resumed student with cached teacher outputs differs from the uninterrupted one")
	}
}

// stage2 is a stage 2 job for a 1-layer student of the given heads, with
// the teacher lines given.
func stage2(out, teachers string, heads int, extra string) []byte {
	return []byte("output: " + out + "\n" + teachers + `
teacher_checkpoint: latest
student: {layers: 1, hidden: 16, heads: ` + strconv.Itoa(heads) + `, ffn: 32}
task:
  intermediate: {steps: 1}
  prediction: {steps: 2}
  train: {batch_size: 16, learning_rate: 1e-3, head_learning_rate: 1e-2, eval_batch_size: 32}
` + extra + `threads: 2
`)
}

// TestMultiTeacher distils each task from its own teacher: UPOS from one
// that reads it at layer 2, features and parsing from another (MKD-style:
// one student, a head per task, all trained at once).
func TestMultiTeacher(t *testing.T) {
	hier := teacherRun(t, "hier", hierTasks)
	top := teacherRun(t, "upos-top", "tasks:\n  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 2}\n")
	out := filepath.Join(t.TempDir(), "multi")
	raw := stage2(out, "teachers: {upos: "+top+", feats: "+hier+", deps: "+hier+"}", 4, "")
	cfg := runJob(t, raw, false)
	ts, err := openTeachers(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, te := range ts {
		got[te.run] = te.tasks
	}
	if !slices.Equal(got[hier], []string{"feats", "deps"}) || !slices.Equal(got[top], []string{"upos"}) {
		t.Errorf("teachers' tasks: %v", got)
	}
	m, err := finetune.Open(StudentRun(out), "latest")
	if err != nil {
		t.Fatal(err)
	}
	scores, err := m.Evaluate("", ewtDev, 0, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := scores["ewt.upos"]; !ok {
		t.Errorf("scores %v lack ewt.upos", scores)
	}
	want := []string{"loss_attention", "loss_embeddings", "loss_hidden", "loss_soft_deps.arc", "loss_soft_deps.rel", "loss_soft_feats", "loss_soft_upos"}
	if got := lossKeys(t, filepath.Join(StudentRun(out), "metrics.jsonl")); !slices.Equal(got, want) {
		t.Errorf("logged %v, want %v", got, want)
	}
}

// TestJobErrors checks the errors of jobs that cannot run: a mapped layer
// that does not exist, and an attention loss between different numbers of
// heads.
func TestJobErrors(t *testing.T) {
	hier := teacherRun(t, "hier", hierTasks)
	for _, c := range []struct {
		name  string
		raw   []byte
		want  string
		parse bool // the configuration itself is wrong
	}{
		{"layer map", stage2("OUT", "teacher: "+hier, 4, "  layer_map: [[0, 0], [2, 2]]\n"), "student layer 2 does not exist", false},
		{"heads", stage2("OUT", "teacher: "+hier, 2, ""), "same number of heads", false},
		{"task layer", stage2("OUT", "teacher: "+hier, 4, "  task_layers: {upos: 3}\n"), "layer 3 does not exist", false},
		{"two teacher forms", stage2("OUT", "teacher: "+hier+"\nteachers: {upos: "+hier+"}", 4, ""), "not both", true},
		{"no stage", []byte("output: x\nteacher: y\n"), "a job has stage 1", true},
		{"steps", []byte(strings.Replace(string(stage2("OUT", "teacher: "+hier, 4, "")), "train: {", "train: {steps: 3, ", 1)), "the phases give the steps", true},
		{"merged attention", stage2("OUT", "teacher: "+hier, 4, "  hierarchy: {merge: {by: keys, after: [1], ratio: 0.3, train: true}}\n"), "set task.weights.attention to 0", true},
	} {
		raw := []byte(strings.Replace(string(c.raw), "OUT", filepath.Join(t.TempDir(), "job"), 1))
		cfg, err := ParseConfig(raw)
		if c.parse {
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: configuration error %v, want %q", c.name, err, c.want)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := Run(context.Background(), cfg, raw, run.New, io.Discard); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
}

func TestSchedule(t *testing.T) {
	s := Schedule{Start: 2, End: 1}
	var got []float64
	for i := range 5 {
		got = append(got, s.At(i, 5))
	}
	if !slices.Equal(got, []float64{2, 1.75, 1.5, 1.25, 1}) {
		t.Errorf("[2, 1] over 5 steps: %v", got)
	}
	if v := Constant(3).At(7, 10); v != 3 {
		t.Errorf("constant 3 at step 7: %v", v)
	}
}

// TestExampleConfigs parses the distillation configurations in examples/.
func TestExampleConfigs(t *testing.T) {
	paths, _ := filepath.Glob("../examples/distill-*.yaml")
	if len(paths) == 0 {
		t.Fatal("no distillation examples")
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseConfig(raw); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestStudentConfigKeepsTheHierarchy maps the teacher's tasks (layers 1, 1
// and 2 of 2) onto a 4-layer student at the same relative depths (2, 2,
// 4), unless task_layers says otherwise.
func TestStudentConfigKeepsTheHierarchy(t *testing.T) {
	hier := teacherRun(t, "hier", hierTasks)
	raw := stage2(filepath.Join(t.TempDir(), "job"), "teacher: "+hier, 4, "  task_layers: {feats: 1}\n")
	cfg, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := openTeachers(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s, err := BuildStudent(StudentConfig{Layers: 4}, ts[0].m.Encoder, 1)
	if err != nil {
		t.Fatal(err)
	}
	from := filepath.Join(t.TempDir(), "init")
	if err := WriteCheckpoint(from, s, ts[0].m.RawConfig(), ts[0].m.TokenizerDir()); err != nil {
		t.Fatal(err)
	}
	sc, _, err := studentConfig(cfg, ts, from)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"upos": 2, "feats": 1, "deps": 4}
	for _, task := range sc.Tasks {
		if task.Layer != want[task.Name] {
			t.Errorf("student task %s reads layer %d, want %d", task.Name, task.Layer, want[task.Name])
		}
	}
	if sc.Model != from || sc.Output != StudentRun(cfg.Output) || sc.Train.Steps != 3 {
		t.Errorf("student run: model %s, output %s, %d steps", sc.Model, sc.Output, sc.Train.Steps)
	}
}

// stopAt is a context that is done from its n+1-th call to Done on: the
// training loops ask once a step.
type stopAt struct {
	context.Context
	n    int
	done chan struct{}
}

func (c *stopAt) Done() <-chan struct{} {
	if c.n--; c.n < 0 {
		return c.done
	}
	return nil
}

// TestGeneralResumeIsExact interrupts stage 1 after 2 of 5 steps and
// resumes it: the general student is the uninterrupted one, byte for byte.
func TestGeneralResumeIsExact(t *testing.T) {
	base := t.TempDir()
	job := func(out string) []byte {
		return []byte("output: " + out + `
student: {layers: 1, hidden: 16, heads: 4, ffn: 32}
general:
  teacher: tiny-random
  corpus: [testdata/raw.txt]
  heldout: 0.2
  max_length: 32
  train: {batch_size: 4, steps: 5, learning_rate: 1e-3}
threads: 2
`)
	}
	runJob(t, job(filepath.Join(base, "plain")), false)
	raw := job(filepath.Join(base, "resumed"))
	cfg, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	close(done)
	if err := Run(&stopAt{Context: context.Background(), n: 2, done: done}, cfg, raw, run.New, io.Discard); err != train.ErrStopped {
		t.Fatalf("interrupted job: %v, want ErrStopped", err)
	}
	if _, err := os.Stat(filepath.Join(base, "resumed", "checkpoints", "step-0000002")); err != nil {
		t.Fatal(err)
	}
	// A latest naming no checkpoint of the run is an error, not a fresh start.
	latest := filepath.Join(base, "resumed", "latest")
	good, _ := os.ReadFile(latest)
	os.WriteFile(latest, []byte("../../x\n"), 0o644)
	if err := Run(context.Background(), cfg, raw, run.Continue, io.Discard); err == nil || !strings.Contains(err.Error(), "not a checkpoint of this run") {
		t.Fatalf("resuming with a broken latest: %v", err)
	}
	os.WriteFile(latest, good, 0o644)
	runJob(t, raw, true)
	a, err := os.ReadFile(filepath.Join(base, "plain", "checkpoints", generalName, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(base, "resumed", "checkpoints", generalName, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) {
		t.Error("the resumed general student differs from the uninterrupted one")
	}
}

// TestStudentPoolsWordsAndMixesLayers distils into students that pool
// words inside the encoder (before the first layer, and after layer 1 by
// attention) and read a mix of layers: both phases run, with the hidden
// states over words matched to the teacher's pooled the same way, and the
// student evaluates.
func TestStudentPoolsWordsAndMixesLayers(t *testing.T) {
	hier := teacherRun(t, "hier", hierTasks)
	for _, c := range []struct{ name, extra, mixed string }{
		{"pool0-mix", "  word_pooling: {after: 0, mode: mean}\n  task_mixes: {upos: {mode: scalar}}\n", "upos"},
		{"pool1-attention", "  word_pooling: {after: 1, mode: attention}\n  task_mixes: {deps: {mode: attention, layers: [2]}}\n", "deps"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "job")
			raw := smallStudent(out, hier, "{hard: 0.5}", c.extra)
			runJob(t, raw, false)
			want := []string{"loss_deps", "loss_embeddings", "loss_feats", "loss_hidden", "loss_soft_deps.arc", "loss_soft_deps.rel", "loss_soft_feats", "loss_soft_upos", "loss_upos"}
			if c.name == "pool1-attention" {
				want = append(want[:2], append([]string{"loss_attention"}, want[2:]...)...) // layer 1 is over pieces
				slices.Sort(want)
			}
			if got := lossKeys(t, filepath.Join(StudentRun(out), "metrics.jsonl")); !slices.Equal(got, want) {
				t.Errorf("logged %v, want %v", got, want)
			}
			m, err := finetune.Open(StudentRun(out), "latest")
			if err != nil {
				t.Fatal(err)
			}
			if m.Config.WordPooling == nil || m.Task(c.mixed).Mixer == nil {
				t.Fatalf("the student does not pool words (%+v) or task %s reads no mix", m.Config.WordPooling, c.mixed)
			}
			scores, err := m.Evaluate("", ewtDev, 0, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := scores["ewt.las"]; !ok || v < 0 || v > 1 {
				t.Errorf("ewt.las = %v (%v)", v, ok)
			}
		})
	}
}

// smallStudent is a stage-2 job distilling teacher into a 2-layer student
// in out, with the given task weights and more task keys.
func smallStudent(out, teacher, weights, extra string) []byte {
	return []byte("output: " + out + "\nteacher: " + teacher + `
teacher_checkpoint: latest
student: {layers: 2, hidden: 16, heads: 4, ffn: 32}
task:
  intermediate: {steps: 2}
  prediction: {steps: 2}
  weights: ` + weights + `
  train: {batch_size: 16, learning_rate: 1e-3, head_learning_rate: 1e-2, eval_batch_size: 32}
` + extra + "threads: 2\n")
}

// TestMergedStudent distils into a student with hierarchy vectors, the
// regulariser and merging in training (a merged student), and evaluates
// it merged as it was trained.
func TestMergedStudent(t *testing.T) {
	hier := teacherRun(t, "hier", hierTasks)
	out := filepath.Join(t.TempDir(), "job")
	raw := smallStudent(out, hier, "{hard: 0.5, attention: 0}", "  hierarchy: {dim: 8, similarity: {weight: 0.5}, merge: {after: [1], ratio: 0.3, train: true}}\n")
	runJob(t, raw, false)
	if got := lossKeys(t, filepath.Join(StudentRun(out), "metrics.jsonl")); !slices.Contains(got, "loss_hier_sim") || !slices.Contains(got, "loss_hidden") {
		t.Errorf("logged %v, want loss_hier_sim and loss_hidden among them", got)
	}
	m, err := finetune.Open(StudentRun(out), "latest")
	if err != nil {
		t.Fatal(err)
	}
	if m.Merge() == nil || m.Hierarchy() == nil {
		t.Fatal("the student neither merges nor has hierarchy vectors")
	}
	scores, err := m.Evaluate("", ewtDev, 0, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := scores["ewt.las"]; !ok || v < 0 || v > 1 {
		t.Errorf("ewt.las = %v (%v)", v, ok)
	}
}
