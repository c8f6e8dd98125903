package finetune

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/hierarchy"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/tasks"
	"github.com/hiertune/hiertune/train"
)

// sample data shipped with the repository
const (
	ewtTrain = "../examples/data/ewt-sample-train.conllu"
	ewtDev   = "../examples/data/ewt-sample-dev.conllu"
)

// jobConfig writes a configuration for the embedded tiny-random checkpoint.
func jobConfig(t *testing.T, out, body string) (*Config, []byte) {
	t.Helper()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(filepath.Dir(out), "cache"))
	raw := []byte("output: " + out + "\nmodel: tiny-random\n" + body)
	cfg, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, raw
}

const hierBody = `datasets:
  ewt: {format: conllu, train: ` + ewtTrain + `, dev: ` + ewtDev + `, limit: 48}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
  - {name: feats, dataset: ewt, type: feats, layer: 1}
  - {name: deps, dataset: ewt, type: parse, layer: 2, arc_mlp: 16, rel_mlp: 8}
train: {batch_size: 16, steps: 8, learning_rate: 1e-3, head_learning_rate: 1e-2, threads: 2, eval_every: 4, select: ewt.las, eval_batch_size: 32}
`

// trainAndOpen runs the job body into out, then opens its latest
// checkpoint, and returns it with the last dev scores the run logged.
func trainAndOpen(t *testing.T, out, body string) (*model.Model, map[string]any) {
	t.Helper()
	cfg, raw := jobConfig(t, out, body)
	if err := Run(context.Background(), cfg, raw, run.New, io.Discard, nil); err != nil {
		t.Fatalf("job\n%s\nfailed: %v", body, err)
	}
	var logged map[string]any
	for _, m := range metricsLines(t, out) {
		if m["split"] == "dev" {
			logged = m
		}
	}
	m, err := Open(out, "latest")
	if err != nil {
		t.Fatal(err)
	}
	return m, logged
}

func metricsLines(t *testing.T, dir string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// TestRunEvalPredict trains a small hierarchical job and checks that eval
// reproduces the dev scores the run logged, that predict writes CoNLL-U
// that differs only in the predicted columns, and that the checkpoint's
// encoder is a HuggingFace directory.
func TestRunEvalPredict(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	cfg, raw := jobConfig(t, out, hierBody)
	if err := Run(context.Background(), cfg, raw, run.New, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	var logged map[string]any
	for _, m := range metricsLines(t, out) {
		if m["split"] == "dev" && m["step"] == float64(8) {
			logged = m
		}
	}
	if logged == nil {
		t.Fatal("no dev scores logged at step 8")
	}
	m, err := Open(out, "latest")
	if err != nil {
		t.Fatal(err)
	}
	scores, err := m.Evaluate("", ewtDev, 0, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ewt.upos", "ewt.ufeats", "ewt.uas", "ewt.las"} {
		if scores[k] != logged[k] {
			t.Errorf("%s: eval %v, logged %v", k, scores[k], logged[k])
		}
	}
	var buf bytes.Buffer
	if err := m.PredictFile("ewt", ewtDev, &buf, 0, io.Discard); err != nil {
		t.Fatal(err)
	}
	pred, err := conllu.Read(&buf, "pred")
	if err != nil {
		t.Fatal(err)
	}
	gold, _ := conllu.ReadFile(ewtDev)
	if len(pred) != len(gold) {
		t.Fatalf("%d predicted sentences, %d gold", len(pred), len(gold))
	}
	for i := range gold {
		for j, g := range gold[i].Rows {
			p := pred[i].Rows[j]
			p.UPOS, p.Feats, p.Head, p.DepRel = g.UPOS, g.Feats, g.Head, g.DepRel
			if p != g {
				t.Fatalf("sentence %d row %d changed outside the predicted columns:\n%+v\n%+v", i, j, p, g)
			}
		}
		if err := conllu.IsTree(pred[i].Heads()); err != nil {
			t.Fatalf("sentence %d: predicted heads are not a tree: %v", i, err)
		}
	}
	// The checkpoint's encoder loads as a plain HuggingFace checkpoint.
	ck, err := loader.Read(filepath.Join(out, "checkpoints", "best"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ck.Model(); err != nil {
		t.Fatal(err)
	}
}

// TestResumeIsExact interrupts a run, resumes it and compares the final
// weights with those of an uninterrupted run.
func TestResumeIsExact(t *testing.T) {
	t.Run("plain", func(t *testing.T) { resumeIsExact(t, "") })
	t.Run("hierarchy", func(t *testing.T) { resumeIsExact(t, hierarchyBlock) })
	t.Run("pairs", func(t *testing.T) { resumeIsExact(t, pairsBlock) })
}

// pairsBlock turns on every part of pair states.
const pairsBlock = `pairs: {dim: 4, triangle: true, triangle_max_length: 128, parser: true, no_positions: true}
`

// TestPairs trains with pair states read by attention and the parser,
// checks their parameters moved and were saved, and that eval on the saved
// model reproduces the run's dev scores.
func TestPairs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	m, logged := trainAndOpen(t, out, pairsBlock+strings.Replace(hierBody, "steps: 8", "steps: 4", 1))
	p := m.Pairs()
	if p == nil || p.Parser == nil {
		t.Fatal("the saved model has no pair states or no parser projection")
	}
	moved := 0
	for _, np := range p.NamedParams() {
		for _, v := range kernels.Values(np.Param) {
			if v != 0 && (strings.Contains(np.Name, ".bias.weight") || strings.Contains(np.Name, "parser")) {
				moved++
				break
			}
		}
	}
	if moved < 2 {
		t.Errorf("only %d of the pair biases and the parser projection left zero", moved)
	}
	scores, err := m.Evaluate("", ewtDev, 0, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ewt.upos", "ewt.las"} {
		if scores[k] != logged[k] {
			t.Errorf("%s: eval %v, logged %v", k, scores[k], logged[k])
		}
	}
	// A batch whose pair states would not fit in memory is refused before
	// anything is computed, with the estimate.
	huge := &tasks.Batch{Enc: &encoder.Batch{Size: 1 << 16, Seq: 512}}
	var opt encoder.Options
	if err := m.SetPairs(&opt, huge); err == nil || !strings.Contains(err.Error(), "GiB of pair states") || opt.Pairs != nil {
		t.Errorf("a batch of 65536×512 pieces with pair states: %v", err)
	}
	// Inputs longer than the triangle update accepts are refused before
	// training, naming the file and line.
	cfg, raw := jobConfig(t, filepath.Join(t.TempDir(), "long"), strings.Replace(pairsBlock, "triangle_max_length: 128", "triangle_max_length: 64", 1)+hierBody)
	err = Run(context.Background(), cfg, raw, run.New, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), ".conllu:") || !strings.Contains(err.Error(), "triangle_max_length 64") {
		t.Errorf("a too long input for the triangle update: %v", err)
	}
}

// hierarchyBlock turns on every part of the soft hierarchy.
const hierarchyBlock = `hierarchy:
  dim: 8
  similarity: {weight: 0.5}
  syntax: {dataset: ewt, weight: 0.1}
  merge: {after: [1], ratio: 0.3, train: true}
`

func resumeIsExact(t *testing.T, block string) {
	dir := t.TempDir()
	body := block + strings.Replace(hierBody, `eval_every: 4`, `eval_every: 3`, 1)
	cfgA, rawA := jobConfig(t, filepath.Join(dir, "a"), body)
	if err := Run(context.Background(), cfgA, rawA, run.New, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	cfgB, rawB := jobConfig(t, filepath.Join(dir, "b"), body)
	ctx, cancel := context.WithCancel(context.Background())
	afterStep = func(step int) {
		if step == 5 {
			cancel()
		}
	}
	err := Run(ctx, cfgB, rawB, run.New, io.Discard, nil)
	afterStep = nil
	if !errors.Is(err, train.ErrStopped) {
		t.Fatalf("interrupted run returned %v", err)
	}
	if err := Run(context.Background(), cfgB, rawB, run.Continue, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.safetensors", "heads.safetensors", "optimizer.safetensors"} {
		a, _ := os.ReadFile(filepath.Join(cfgA.Output, "checkpoints", "step-0000008", f))
		b, _ := os.ReadFile(filepath.Join(cfgB.Output, "checkpoints", "step-0000008", f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the uninterrupted and the resumed run", f)
		}
	}
}

// TestHierarchy trains with the regulariser, the syntactic supervision and
// merging in training, and checks their losses are logged, the
// projections saved, and that eval on the saved model (merging as the
// configuration says, or as --merge overrides) reproduces the run.
func TestHierarchy(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	m, logged := trainAndOpen(t, out, hierarchyBlock+strings.Replace(hierBody, "steps: 8", "steps: 4", 1))
	var train map[string]any
	for _, r := range metricsLines(t, out) {
		if r["split"] == "train" {
			train = r
		}
	}
	for _, k := range []string{"loss_hier_sim", "loss_hier_syntax"} {
		if v, ok := train[k].(float64); !ok || v <= 0 || math.IsNaN(v) {
			t.Errorf("train record %s = %v", k, train[k])
		}
	}
	if m.Hierarchy() == nil || m.Merge() == nil {
		t.Fatal("the saved model has no hierarchy or no merging")
	}
	scores, err := m.Evaluate("", ewtDev, 0, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ewt.upos", "ewt.las"} {
		if scores[k] != logged[k] {
			t.Errorf("%s: eval %v, logged %v", k, scores[k], logged[k])
		}
	}
	// Merging by keys needs no hierarchy; by hierarchy at a ratio of 0 is
	// the unmerged model.
	if err := m.SetMerge(&hierarchy.MergeConfig{By: hierarchy.ByKeys, After: []int{1}, Ratio: hierarchy.PerMerge{0.5}}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Evaluate("", ewtDev, 0, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := m.SetMerge(&hierarchy.MergeConfig{After: []int{1}}); err != nil {
		t.Fatal(err)
	}
	zero, err := m.Evaluate("", ewtDev, 0, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetMerge(nil); err != nil {
		t.Fatal(err)
	}
	none, err := m.Evaluate("", ewtDev, 0, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ewt.upos", "ewt.las", "ewt.feats"} {
		if zero[k] != none[k] {
			t.Errorf("%s: merging nothing %v, not merging %v", k, zero[k], none[k])
		}
	}
	if err := m.SetMerge(&hierarchy.MergeConfig{After: []int{2}}); err == nil {
		t.Error("merging after the last layer was accepted")
	}
}

// TestSyntaxChecksTrees: the syntactic supervision refuses a training file
// whose heads are not a tree before training, naming the line, even when
// no task parses.
func TestSyntaxChecksTrees(t *testing.T) {
	dir := t.TempDir()
	row := func(id, head string) string { return id + "\tw\tw\tNOUN\t_\t_\t" + head + "\tdep\t_\t_\n" }
	train := filepath.Join(dir, "train.conllu")
	os.WriteFile(train, []byte(row("1", "0")+"\n"+row("1", "0")+row("2", "3")+row("3", "2")+"\n"), 0o644)
	body := "hierarchy: {dim: 8, syntax: {dataset: ewt}}\ndatasets:\n  ewt: {format: conllu, train: " + train + "}\n" +
		"tasks:\n  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}\ntrain: {batch_size: 2, steps: 1}\n"
	cfg, raw := jobConfig(t, filepath.Join(dir, "run"), body)
	err := Run(context.Background(), cfg, raw, run.New, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "train.conllu:3: hierarchy.syntax: the gold heads are not a tree") {
		t.Errorf("error %v", err)
	}
}

// TestFrozenEncoder trains a structural probe on a frozen encoder:
// learning_rate 0 leaves every encoder weight as the checkpoint had it.
func TestFrozenEncoder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	body := "hierarchy: {dim: 8, syntax: {dataset: ewt, weight: 1}}\n" + strings.Replace(hierBody, "learning_rate: 1e-3", "learning_rate: 0", 1)
	m, _ := trainAndOpen(t, out, body)
	ck, err := loader.Open("tiny-random")
	if err != nil {
		t.Fatal(err)
	}
	orig, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{}
	for _, np := range orig.NamedParams() {
		want[np.Name] = kernels.Values(np.Param)
	}
	for _, np := range m.Encoder.NamedParams() {
		if !slices.Equal(kernels.Values(np.Param), want[np.Name]) {
			t.Fatalf("%s changed with learning_rate 0", np.Name)
		}
	}
	if m.Hierarchy() == nil {
		t.Fatal("no hierarchy projections in the checkpoint")
	}
}

// TestNERAndClassification trains a CRF tagger and a sentence classifier
// side by side, one dataset per step.
func TestNERAndClassification(t *testing.T) {
	dir := t.TempDir()
	ner := filepath.Join(dir, "ner.txt")
	var b strings.Builder
	for i := 0; i < 20; i++ {
		b.WriteString("en:John\tB-PER\nen:Smith\tI-PER\nen:lives\tO\nen:in\tO\nen:Paris\tB-LOC\nen:.\tO\n\n")
		b.WriteString("en:The\tO\nen:United\tB-ORG\nen:Nations\tI-ORG\nen:met\tO\n\n")
	}
	os.WriteFile(ner, []byte(b.String()), 0o644)
	cls := filepath.Join(dir, "cls.tsv")
	rows := "sentence\tlabel\n"
	for i := 0; i < 20; i++ {
		rows += "a good film\t1\nterrible , boring\t0\n"
	}
	os.WriteFile(cls, []byte(rows), 0o644)
	body := `datasets:
  ner: {format: conll, train: ` + ner + `, dev: ` + ner + `, token_prefix: "en:", scheme: iob2}
  sst: {format: tsv, train: ` + cls + `, dev: ` + cls + `, text: sentence}
tasks:
  - {name: ner, dataset: ner, type: tag, crf: true, layer: -1, pooling: mean}
  - {name: sentiment, dataset: sst, type: classify, layer: -1}
sampling: round-robin
train: {batch_size: 8, steps: 6, learning_rate: 1e-3, head_learning_rate: 1e-2, eval_every: 6, select: ner.ner_f1}
`
	cfg, raw := jobConfig(t, filepath.Join(dir, "run"), body)
	if err := Run(context.Background(), cfg, raw, run.New, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	var dev map[string]any
	for _, m := range metricsLines(t, cfg.Output) {
		if m["split"] == "dev" {
			dev = m
		}
	}
	for _, k := range []string{"ner.ner_f1", "ner.ner_f1_lenient", "sst.accuracy", "sst.f1"} {
		if _, ok := dev[k]; !ok {
			t.Errorf("dev scores lack %s: %v", k, dev)
		}
	}
	m, err := Open(cfg.Output, "best")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := m.PredictFile("sst", cls, &out, 0, io.Discard); err != nil {
		t.Fatal(err)
	}
	// The input back, the label column predicted.
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 41 || lines[0] != "sentence\tlabel" {
		t.Errorf("TSV predictions: %d lines, header %q", len(lines), lines[0])
	}
}

func TestBadJobs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	row := func(id, form, head string) string {
		return id + "\t" + form + "\t_\tNOUN\t_\t_\t" + head + "\tdep\t_\t_\n"
	}
	good := write("good.conllu", row("1", "a", "0")+row("2", "b", "1")+"\n")
	cases := map[string]struct{ body, want string }{
		"head out of range": {"ewt: {format: conllu, train: " + write("h.conllu", row("1", "a", "0")+row("2", "b", "7")+"\n") + "}",
			"h.conllu:2: HEAD 7"},
		"missing column": {"ewt: {format: conllu, train: " + write("c.conllu", "1\ta\t_\tNOUN\t_\t_\t0\troot\t_\n\n") + "}",
			"c.conllu:1: 9 tab-separated columns"},
		"cycle": {"ewt: {format: conllu, train: " + write("y.conllu", row("1", "a", "2")+row("2", "b", "1")+"\n") + "}",
			"y.conllu:1: "},
		"empty file": {"ewt: {format: conllu, train: " + write("e.conllu", "") + "}", "no training examples"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, raw := jobConfig(t, filepath.Join(dir, strings.ReplaceAll(name, " ", "-")), "datasets:\n  "+c.body+`
tasks: [{name: deps, dataset: ewt, type: parse, layer: 1}]
train: {steps: 1}
`)
			err := Run(context.Background(), cfg, raw, run.New, io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
	// A label the training data never had: no loss during training, and a
	// wrong prediction at evaluation.
	unseen := write("unseen.conllu", row("1", "a", "0")+strings.Replace(row("2", "b", "1"), "NOUN", "VERB", 1)+"\n")
	cfg, raw := jobConfig(t, filepath.Join(dir, "unseen"), "datasets:\n  ewt: {format: conllu, train: "+good+", dev: "+unseen+`}
tasks: [{name: upos, dataset: ewt, type: tag, column: upos, layer: 1}]
train: {steps: 2}
`)
	if err := Run(context.Background(), cfg, raw, run.New, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	for _, m := range metricsLines(t, cfg.Output) {
		if m["split"] == "dev" && m["ewt.upos"].(float64) > 0.5 {
			t.Errorf("the unseen VERB counted as right: %v", m)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	base := "output: x\nmodel: tiny-random\ndatasets: {ewt: {format: conllu, train: a}}\n"
	cases := map[string]string{
		base + "tasks: [{name: u, dataset: ewt, type: tag, column: upos}]\ntrain: {steps: 1}\nbogus: 1\n":          `unknown key "bogus"`,
		base + "tasks: [{name: u, dataset: nope, type: tag, column: upos}]\ntrain: {steps: 1}\n":                   `unknown dataset "nope"`,
		base + "tasks: [{name: u, dataset: ewt, type: tag, column: colour}]\ntrain: {steps: 1}\n":                  "column must be",
		base + "tasks: [{name: u, dataset: ewt, type: classify}]\ntrain: {steps: 1}\n":                             "a classify task needs texts with a label column (tsv), ewt is conllu",
		base + "tasks: [{name: u, dataset: ewt, type: tag, column: upos}]\ntrain: {steps: 1, epochs: 2}\n":         "steps or epochs",
		base + "tasks: [{name: u, dataset: ewt, type: tag, column: upos}]\nsampling: lottery\ntrain: {steps: 1}\n": "sampling must be",
		base + "tasks: [{name: u, dataset: ewt, type: tag, column: upos, pooling: median}]\ntrain: {steps: 1}\n":   "pooling must be",
		base + "tasks: [{name: u, dataset: ewt, type: tag, column: upos}]\ncontinual: [{add: [v], steps: 3}]\n":    `"v" is not a task`,
	}
	for text, want := range cases {
		if _, err := ParseConfig([]byte(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", text, err, want)
		}
	}
}

// TestScheduleAndSampling checks the continual stages and the dataset
// sampling rules, white-box.
func TestScheduleAndSampling(t *testing.T) {
	mk := func(name string, n int) *datasets.Dataset {
		return &datasets.Dataset{Name: name, Train: make([]*tasks.Example, n)}
	}
	task := func(name, dataset string) *tasks.Task {
		return &tasks.Task{Config: tasks.Config{Name: name, Dataset: dataset}}
	}
	j := &job{cfg: &Config{Train: train.Config{Seed: 3}, Continual: []StageConfig{{Add: []string{"a"}, Steps: 10}, {Add: []string{"c"}, Steps: 10}, {Add: []string{"b"}, Steps: 10}}},
		m: &model.Model{Tasks: []*tasks.Task{task("a", "big"), task("b", "big"), task("c", "small")}, Datasets: []*datasets.Dataset{mk("big", 900), mk("small", 100)}}}
	names := func(ts []*tasks.Task) string {
		var s []string
		for _, t := range ts {
			s = append(s, t.Config.Name)
		}
		return strings.Join(s, ",")
	}
	for step, want := range map[int]string{0: "a", 9: "a", 10: "a,c", 19: "a,c", 20: "a,b,c", 29: "a,b,c", 40: "a,b,c"} {
		if got := names(j.active(step)); got != want {
			t.Errorf("active(%d) = %s, want %s", step, got, want)
		}
	}
	j.cfg.Continual = nil
	count := func(sampling string, temp float64) map[string]int {
		j.cfg.Sampling, j.cfg.SamplingTemperature = sampling, temp
		n := map[string]int{}
		for s := 0; s < 2000; s++ {
			ds, _ := j.datasetsAt(s)
			for _, d := range ds {
				n[d.Name]++
			}
		}
		return n
	}
	if n := count("mixed", 0); n["big"] != 2000 || n["small"] != 2000 {
		t.Errorf("mixed: %v", n)
	}
	if n := count("round-robin", 0); n["big"] != 1000 || n["small"] != 1000 {
		t.Errorf("round-robin: %v", n)
	}
	if n := count("size", 0); n["small"] < 140 || n["small"] > 260 { // 10%
		t.Errorf("size: %v", n)
	}
	if n := count("temperature", 2); n["small"] < 420 || n["small"] > 580 { // √100/(√900+√100) = 25%
		t.Errorf("temperature 2: %v", n)
	}
}

// TestContinualAccumulatePatience runs a job with continual stages,
// gradient accumulation and early stopping.
func TestContinualAccumulatePatience(t *testing.T) {
	body := `datasets:
  ewt: {format: conllu, train: ` + ewtTrain + `, dev: ` + ewtDev + `, limit: 32}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
  - {name: deps, dataset: ewt, type: parse, layer: 2, arc_mlp: 16, rel_mlp: 8}
continual: [{add: [upos], steps: 4}, {add: [deps], steps: 40}]
train:
  batch_size: 8
  accumulate: 2
  learning_rate: 1e-9
  head_learning_rate: 1e-9
  eval_every: 2
  select: ewt.upos
  patience: 2
`
	cfg, raw := jobConfig(t, filepath.Join(t.TempDir(), "run"), body)
	if err := Run(context.Background(), cfg, raw, run.New, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	var devSteps []float64
	for _, m := range metricsLines(t, cfg.Output) {
		if m["split"] == "dev" {
			devSteps = append(devSteps, m["step"].(float64))
		}
	}
	// With a learning rate of 1e-9 nothing improves after the first
	// evaluation, so patience 2 stops the run at the third.
	if len(devSteps) != 3 || devSteps[2] != 6 {
		t.Errorf("evaluations at steps %v, want [2 4 6]", devSteps)
	}
}

// TestLayerMixes trains with every layer mix and checks that eval
// reproduces the logged scores (the mixes are saved and reloaded), and that
// an empty mix is the single-layer path, bit for bit.
func TestLayerMixes(t *testing.T) {
	dir := t.TempDir()
	for _, mix := range []string{"{mode: scalar}", "{mode: concat, layers: [1, 2]}", "{mode: attention, diff: true}", "{}"} {
		body := strings.Replace(hierBody, "type: tag, column: upos, layer: 1}", "type: tag, column: upos, layer: 1, mix: "+mix+"}", 1)
		body = strings.Replace(body, "steps: 8", "steps: 4", 1)
		out := filepath.Join(dir, strings.NewReplacer("{", "", "}", "", " ", "", ":", "", ",", "", "[", "", "]", "").Replace(mix)+"run")
		m, logged := trainAndOpen(t, out, body)
		scores, err := m.Evaluate("", ewtDev, 0, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if scores["ewt.upos"] != logged["ewt.upos"] {
			t.Errorf("%s: eval %v, logged %v", mix, scores["ewt.upos"], logged["ewt.upos"])
		}
	}
	plain, raw := jobConfig(t, filepath.Join(dir, "plain"), strings.Replace(hierBody, "steps: 8", "steps: 4", 1))
	if plain.Tasks[0].Mix.Mode != "" || plain.WordPooling != nil || plain.DepthMixing != "" {
		t.Fatal("an adapter is on by default")
	}
	if err := Run(context.Background(), plain, raw, run.New, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "plain", "checkpoints", "step-0000004", "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(dir, "run", "checkpoints", "step-0000004", "model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Error("an empty mix changed training")
	}
}

// TestMixAcrossWordPooling checks that a mix over differences whose lower
// layer lies below the pooling point is refused, not a panic mid-run.
func TestMixAcrossWordPooling(t *testing.T) {
	body := "word_pooling: {after: 1}\n" + strings.Replace(hierBody, "type: tag, column: upos, layer: 1}",
		"type: tag, column: upos, layer: 2, mix: {mode: attention, layers: [2], diff: true}}", 1)
	cfg, raw := jobConfig(t, filepath.Join(t.TempDir(), "run"), body)
	err := Run(context.Background(), cfg, raw, run.New, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "layers 1..2 on both sides of word pooling after 1") {
		t.Errorf("got %v", err)
	}
}

// TestWordPoolingInTheEncoder trains with words pooled before the first
// layer and after layer 1 (by attention), and checks that eval reproduces
// the run.
func TestWordPoolingInTheEncoder(t *testing.T) {
	for _, after := range []string{"0, mode: mean", "1, mode: attention"} {
		body := "word_pooling: {after: " + after + "}\n" + strings.Replace(hierBody, "steps: 8", "steps: 4", 1)
		out := filepath.Join(t.TempDir(), "run")
		m, logged := trainAndOpen(t, out, body)
		scores, err := m.Evaluate("", ewtDev, 0, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"ewt.upos", "ewt.las"} {
			if scores[k] != logged[k] {
				t.Errorf("after %s, %s: eval %v, logged %v", after, k, scores[k], logged[k])
			}
		}
	}
}

// TestDepthMixing trains with each depth mixing mode and checks that the
// mixer's weights moved from their identity start, are saved with the
// heads, and that eval on the saved model reproduces the run.
func TestDepthMixing(t *testing.T) {
	for _, mode := range []string{"static", "attention"} {
		body := "depth_mixing: " + mode + "\n" + strings.Replace(hierBody, "steps: 8", "steps: 4", 1)
		out := filepath.Join(t.TempDir(), "run")
		m, logged := trainAndOpen(t, out, body)
		ins, err := m.Inspect("", "")
		if err != nil {
			t.Fatal(err)
		}
		w := ins.Depth
		if len(w) != 1 || len(w[0]) != 2 {
			t.Fatalf("%s: depth weights %v, want one row over h0, h1", mode, w)
		}
		if w[0][1] == 1 && w[0][0] == 0 {
			t.Errorf("%s: depth weights did not train: %v", mode, w)
		}
		if mode == "attention" {
			// Averaged over tokens, the attention adds λ·mean(α), and α
			// sums to one: each row's sum grows by the gate.
			withData, err := m.Inspect("", ewtDev)
			if err != nil {
				t.Fatal(err)
			}
			static, mixed := w[0][0]+w[0][1], withData.Depth[0][0]+withData.Depth[0][1]
			if withData.DepthTokens == 0 || math.Abs(mixed-static-withData.DepthGates[0]) > 1e-6 || withData.DepthGates[0] == 0 {
				t.Errorf("depth attention over %d tokens: static %v, mixed %v, gate %v", withData.DepthTokens, w, withData.Depth, withData.DepthGates)
			}
		}
		scores, err := m.Evaluate("", ewtDev, 0, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"ewt.upos", "ewt.las"} {
			if scores[k] != logged[k] {
				t.Errorf("%s, %s: eval %v, logged %v", mode, k, scores[k], logged[k])
			}
		}
	}
	cfg, err := ParseConfig([]byte("output: x\nmodel: tiny-random\ndepth_mixing: deep\n" + hierBody))
	if err == nil || !strings.Contains(err.Error(), "depth_mixing") {
		t.Errorf("bad depth_mixing: %v, %v", cfg, err)
	}
}

// TestExampleConfigs parses every fine-tuning configuration in examples/.
func TestExampleConfigs(t *testing.T) {
	paths, _ := filepath.Glob("../examples/*.yaml")
	n := 0
	for _, p := range paths {
		if strings.HasPrefix(filepath.Base(p), "pretrain-") || strings.HasPrefix(filepath.Base(p), "distill-") {
			continue
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseConfig(raw); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		n++
	}
	if n < 10 {
		t.Errorf("only %d fine-tuning examples", n)
	}
}

// longSentence writes a CoNLL-U file holding one sentence of n words
// (each attached to the first) after a short one.
func longSentence(t *testing.T, dir string, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("1\ta\ta\tDET\t_\t_\t0\troot\t_\t_\n2\tb\tb\tNOUN\t_\t_\t1\tdep\t_\t_\n\n")
	for i := 1; i <= n; i++ {
		head := "1"
		if i == 1 {
			head = "0"
		}
		fmt.Fprintf(&b, "%d\tw\tw\tNOUN\t_\t_\t%s\tdep\t_\t_\n", i, head)
	}
	b.WriteString("\n")
	path := filepath.Join(dir, fmt.Sprintf("long%d.conllu", n))
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestLongSentencesStayBounded checks the length policy: predict refuses
// a 100,000-word sentence naming its line (instead of running out of
// memory), training leaves sentences over max_words out and, with
// long_sentences: skip, those over max_length pieces, counted, and eval
// batches of long sentences are cut to a bounded size.
func TestLongSentencesStayBounded(t *testing.T) {
	dir := t.TempDir()
	huge := longSentence(t, dir, 100000)
	body := strings.Replace(hierBody, "steps: 8", "steps: 2", 1)
	m, _ := trainAndOpen(t, filepath.Join(dir, "run"), body)
	err := m.PredictFile("", huge, io.Discard, 0, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "long100000.conllu:4: a sentence of 100000 words, more than the model's max_words 1024") {
		t.Fatalf("predict: %v", err)
	}
	var log bytes.Buffer
	train := filepath.Join(dir, "train.conllu")
	a, _ := os.ReadFile(longSentence(t, dir, 20))
	c, _ := os.ReadFile(longSentence(t, dir, 40))
	os.WriteFile(train, append(a, c...), 0o644)
	short := filepath.Join(dir, "short.conllu")
	os.WriteFile(short, []byte("1\ta\ta\tDET\t_\t_\t0\troot\t_\t_\n\n"), 0o644)
	cfg, raw := jobConfig(t, filepath.Join(dir, "skip"), "max_words: 30\nmax_length: 16\nlong_sentences: skip\ndatasets:\n  ewt: {format: conllu, train: "+train+", dev: "+short+`}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
  - {name: deps, dataset: ewt, type: parse, layer: 2, arc_mlp: 16, rel_mlp: 8}
train: {batch_size: 16, steps: 1}
`)
	if err := Run(context.Background(), cfg, raw, run.New, &log, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"train.conllu: 1 sentences longer than max_words 30 left out", "train.conllu: 1 sentences longer than 16 pieces left out (long_sentences: skip)",
		"dataset ewt: 2 training and 1 dev examples"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, log.String())
		}
	}
	d, _ := m.Dataset("")
	exs, err := m.ReadInput(d, longSentence(t, dir, 1000), false, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	exs = append(exs, exs...)
	for group, b := range m.Batches(d, append(exs, exs...), 64) {
		if b.Enc.Size*b.Enc.Seq > 2*64*m.MaxLength && len(group) > 1 || len(group)*1001*1001 > 64*256*256 && len(group) > 1 {
			t.Errorf("a batch of %d examples, %d×%d pieces", len(group), b.Enc.Size, b.Enc.Seq)
		}
	}
}

// TestSelectIsCheckedBeforeTraining checks that a train.select the dev
// sets do not give is refused before any step, listing the metrics there
// are.
func TestSelectIsCheckedBeforeTraining(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	cfg, raw := jobConfig(t, out, strings.Replace(hierBody, "select: ewt.las", "select: ewt.lass", 1))
	err := Run(context.Background(), cfg, raw, run.New, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), `train.select: no metric "ewt.lass": the dev sets give ewt.clas, ewt.las, ewt.las_full, ewt.uas, ewt.ufeats, ewt.upos`) {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoints", "step-0000001")); err == nil {
		t.Error("the run trained before refusing")
	}
}

// TestEditedLabelsAreRefused checks that a checkpoint whose tasks.json was
// edited — labels reordered or dropped — is refused when opened, naming
// tasks.json and the task (and not config.json), instead of predicting
// with labels its head was not trained with; and that heads that no longer
// fit an edited config.yaml are blamed on it.
func TestEditedLabelsAreRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	trainAndOpen(t, out, strings.Replace(hierBody, "steps: 8", "steps: 1", 1))
	ck := filepath.Join(out, "checkpoints", "step-0000001", "tasks.json")
	orig, err := os.ReadFile(ck)
	if err != nil {
		t.Fatal(err)
	}
	var infos []map[string]any
	if err := json.Unmarshal(orig, &infos); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(labels []any) []any{
		"reordered": func(l []any) []any { l[0], l[1] = l[1], l[0]; return l },
		"dropped":   func(l []any) []any { return l[1:] },
	} {
		var edited []map[string]any
		json.Unmarshal(orig, &edited)
		edited[0]["labels"] = edit(edited[0]["labels"].([]any))
		b, _ := json.Marshal(edited)
		os.WriteFile(ck, b, 0o644)
		_, err := Open(out, "step-0000001")
		if err == nil || !strings.Contains(err.Error(), "tasks.json: the labels of task upos are not those its head was trained with") || strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s: %v", name, err)
		}
	}
	os.WriteFile(ck, orig, 0o644)
	if _, err := Open(out, "step-0000001"); err != nil {
		t.Errorf("the checkpoint as saved: %v", err)
	}
	for _, bad := range []string{"../../..", "/etc", "latest/.."} {
		if _, err := Open(out, bad); err == nil || !strings.Contains(err.Error(), "is not a checkpoint of this run") {
			t.Errorf("checkpoint %q: %v", bad, err)
		}
	}
	// A run configuration edited since training builds other heads: the
	// error names heads.safetensors, the tensor and config.yaml.
	cfgPath := filepath.Join(out, "config.yaml")
	cfg, _ := os.ReadFile(cfgPath)
	os.WriteFile(cfgPath, []byte(strings.Replace(string(cfg), "arc_mlp: 16", "arc_mlp: 32", 1)), 0o644)
	_, err = Open(out, "step-0000001")
	if err == nil || !strings.Contains(err.Error(), `heads.safetensors: tensor "deps.arc_dep.weight": shape`) ||
		!strings.Contains(err.Error(), "config.yaml edited?") || strings.Contains(err.Error(), "config.json") {
		t.Errorf("edited config.yaml: %v", err)
	}
}

// TestEvalChecksGoldTrees checks that eval holds gold trees to the rule
// training does: a cycle, a self-loop, two roots or none is an error
// naming the sentence's line, while predict (which ignores gold) reads it.
func TestEvalChecksGoldTrees(t *testing.T) {
	dir := t.TempDir()
	m, _ := trainAndOpen(t, filepath.Join(dir, "run"), strings.Replace(hierBody, "steps: 8", "steps: 1", 1))
	row := func(id, head string) string { return id + "\tw\tw\tNOUN\t_\t_\t" + head + "\tdep\t_\t_\n" }
	for name, text := range map[string]string{
		"cycle":     row("1", "0") + row("2", "3") + row("3", "2"),
		"self-loop": row("1", "0") + row("2", "2"),
		"two roots": row("1", "0") + row("2", "0"),
		"no root":   row("1", "2") + row("2", "1"),
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".conllu")
		os.WriteFile(path, []byte(row("1", "0")+"\n"+text+"\n"), 0o644)
		if _, err := m.Evaluate("", path, 0, io.Discard); err == nil || !strings.Contains(err.Error(), ".conllu:3: task deps: the gold heads are not a tree") {
			t.Errorf("%s: %v", name, err)
		}
		if err := m.PredictFile("", path, io.Discard, 0, io.Discard); err != nil {
			t.Errorf("%s: predict: %v", name, err)
		}
	}
}
