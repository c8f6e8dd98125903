package tasks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/export"
	"github.com/hiertune/hiertune/export/ort"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/tasks"
	"github.com/hiertune/hiertune/tensor"
)

// word is a CoNLL-U row of a form and its lemma.
func word(id, form, lemma, head string) string {
	return id + "\t" + form + "\t" + lemma + "\tNOUN\t_\t_\t" + head + "\tdep\t_\t_\n"
}

// TestLemmaPredictFallsBack checks the decoding of a lemma head: the best
// rule that applies to the form among the best candidates, else the form.
func TestLemmaPredictFallsBack(t *testing.T) {
	d, err := datasets.New("ewt", datasets.Config{Format: "conllu"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "two.conllu")
	os.WriteFile(path, []byte(word("1", "dogs", "dog", "0")+word("2", "a", "a", "1")+"\n"), 0o644)
	exs, err := d.Read(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HIERTUNE_CACHE", filepath.Join(t.TempDir(), "cache"))
	ck, err := loader.Open("tiny-random")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(ck.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Encode(exs, path, tok, 32, 8, nil); err != nil {
		t.Fatal(err)
	}
	b := tasks.NewBatch(exs, 0)
	// Rules "=x", "L;0;1", "L;0;3" (which removes 3 runes); the scores of
	// word slots [CLS], dogs, a: for "a" the best rule removes too much,
	// the second makes it "x"; with one candidate "a" stays itself.
	labels := []string{"=x", "L;0;1", "L;0;3"}
	logits := tensor.FromFloat32([]int{1, 3, 3}, []float32{0, 0, 0, 0, 5, 1, 3, 0, 9})
	for _, c := range []struct {
		candidates int
		want       string
	}{{2, "dog x"}, {1, "dog a"}, {3, "dog x"}} {
		task, err := tasks.New(tasks.Config{Name: "lemma", Type: "lemma", Options: &tasks.LemmaOptions{Pooling: "first", Candidates: c.candidates}}, d.Data, 1)
		if err != nil {
			t.Fatal(err)
		}
		if got := task.Head.Vocabulary(exs); strings.Join(got, " ") != "L;0;0 L;0;1" {
			t.Fatalf("vocabulary %v", got)
		}
		if err := task.Build(labels, 4, 1, nil, rand.New(rand.NewPCG(1, 1))); err != nil {
			t.Fatal(err)
		}
		s, err := task.Head.FromGraph(map[string]*tensor.Tensor{"lemma.logits": logits}, b)
		if err != nil {
			t.Fatal(err)
		}
		preds, err := task.Head.Predict(s, b)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(preds[0]["lemma"], " "); got != c.want {
			t.Errorf("%d candidates: lemmas %q, want %q", c.candidates, got, c.want)
		}
	}
}

// TestLemmaTask trains a lemma task end to end on the sample of EWT: the
// run logs the CoNLL 2018 lemma score, eval reproduces it, predict writes
// lemmas (and nothing else changes), and the exported graph's scores
// equal hiertune's.
func TestLemmaTask(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	out := filepath.Join(dir, "run")
	dev := "../export/testdata/dev.conllu"
	raw := []byte("output: " + out + `
model: tiny-random
datasets:
  ewt: {format: conllu, train: ../examples/data/ewt-sample-train.conllu, dev: ` + dev + `, limit: 64}
tasks:
  - {name: lemma, dataset: ewt, type: lemma, layer: 2}
train: {batch_size: 16, steps: 4, learning_rate: 1e-3, head_learning_rate: 1e-2, threads: 2, eval_every: 4}
`)
	cfg, err := finetune.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := finetune.Run(context.Background(), cfg, raw, run.New, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	var logged map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		json.Unmarshal([]byte(line), &m)
		if m["split"] == "dev" {
			logged = m
		}
	}
	if _, ok := logged["ewt.lemmas"]; !ok {
		t.Fatalf("dev record %v has no ewt.lemmas", logged)
	}
	m, err := finetune.Open(out, "latest")
	if err != nil {
		t.Fatal(err)
	}
	scores, err := m.Evaluate("", dev, 0, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if scores["ewt.lemmas"] != logged["ewt.lemmas"] || scores["ewt.lemmas"] < 0.5 {
		t.Errorf("eval lemmas %v, logged %v (with most lemmas equal to their form, even a short run gets half right)", scores["ewt.lemmas"], logged["ewt.lemmas"])
	}
	var buf bytes.Buffer
	if err := m.PredictFile("", dev, &buf, 0, io.Discard); err != nil {
		t.Fatal(err)
	}
	pred, err := conllu.Read(&buf, "pred")
	if err != nil {
		t.Fatal(err)
	}
	gold, _ := conllu.ReadFile(dev)
	for i := range gold {
		for j, g := range gold[i].Rows {
			p := pred[i].Rows[j]
			p.Lemma = g.Lemma
			if p != g {
				t.Fatalf("sentence %d row %d changed outside LEMMA", i, j)
			}
		}
	}
	if err := ort.Available(""); err != nil {
		t.Skipf("ONNX Runtime is not available: %v", err)
	}
	om, err := export.Model(m, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := om.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lemma.onnx")
	os.WriteFile(path, enc, 0o644)
	s, err := ort.Open(path, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	diff, err := export.Compare(m, s, s.OutputNames(), "", dev, 8, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := diff["lemma.logits"]; !ok || d > 1e-4 {
		t.Errorf("lemma.logits: max abs diff %v (%v)", d, ok)
	}
}
