package distill

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/data/conll"
	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/loader/safetensors"
)

// mlmCheckpoint writes tiny-random with a random masked-LM head.
func mlmCheckpoint(t *testing.T) string {
	t.Helper()
	ck, m := tinyTeacher(t)
	rng := rand.New(rand.NewPCG(1, 2))
	mlm, err := heads.NewMaskedLM(m, func(p *nn.Param) { encoder.InitNormal(p, 0.5, rng) })
	if err != nil {
		t.Fatal(err)
	}
	files, err := encoderFiles(m, ck.RawConfig, ck.Dir)
	if err != nil {
		t.Fatal(err)
	}
	weights := encoder.Tensors(mlm.NamedParams())
	for n, v := range encoder.Tensors(m.NamedParams()) {
		weights["bert."+n] = v
	}
	if files["model.safetensors"], err = safetensors.Encode(weights, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "mlm")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTop(t *testing.T) {
	if got := top([]float32{3, 9, 1, 7, 9.5, 0}, 3); !slices.Equal(got, []int{4, 1, 3}) {
		t.Errorf("top 3 = %v", got)
	}
}

// TestAugmentConllu augments sample sentences: each is followed by copies
// with the same annotation and some single-piece words replaced by words
// of the vocabulary, never inside a multiword token.
func TestAugmentConllu(t *testing.T) {
	a, err := newAugmenter(AugmentConfig{Factor: 3, Probability: 0.5, TopK: 5}, mlmCheckpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d, err := a.augmentDataset("ewt", datasets.Config{Format: "conllu", Train: ewtTrain, Limit: 20}, dir, 1, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d.Limit != 0 || d.Train != filepath.Join(dir, "ewt-train.conllu") {
		t.Fatalf("augmented dataset %+v", d)
	}
	orig, _ := conllu.ReadFile(ewtTrain)
	got, err := conllu.ReadFile(d.Train)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) <= 20 || len(got) > 80 {
		t.Fatalf("%d sentences from 20 with factor 3", len(got))
	}
	k, changed := -1, 0
	for _, s := range got {
		id, _ := s.Meta("sent_id")
		if !strings.Contains(id, "-aug") {
			k++
			if !slices.Equal(s.Rows, orig[k].Rows) {
				t.Fatalf("original sentence %d changed", k+1)
			}
			continue
		}
		o := orig[k]
		words, keep := conlluWords(o)
		for i, w := range s.Words() {
			r := o.Words()[i]
			if w.UPOS != r.UPOS || w.Head != r.Head || w.DepRel != r.DepRel {
				t.Fatalf("copy of sentence %d changed the annotation of word %d", k+1, i+1)
			}
			if w.Form != words[i] {
				changed++
				if !keep[i] || len(a.tok.EncodeWords([]string{w.Form}).IDs) != 1 {
					t.Errorf("sentence %d word %d: %q replaced by %q", k+1, i+1, words[i], w.Form)
				}
			}
		}
	}
	if changed == 0 {
		t.Error("no word replaced")
	}
	// A second call reuses the file.
	before, _ := os.ReadFile(d.Train)
	if _, err := a.augmentDataset("ewt", datasets.Config{Format: "conllu", Train: ewtTrain, Limit: 20}, dir, 2, io.Discard); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(d.Train); !slices.Equal(before, after) {
		t.Error("the augmented file was written again")
	}
}

func TestAugmentConll(t *testing.T) {
	a, err := newAugmenter(AugmentConfig{Factor: 2, Probability: 1, TopK: 3}, mlmCheckpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "ner.txt")
	if err := os.WriteFile(src, []byte("en:the\tO\nen:city\tO\nen:Paris\tB-LOC\n\nen:a\tO\nen:man\tO\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := a.augmentDataset("ner", datasets.Config{Format: "conll", Train: src, Options: &datasets.ConllOptions{TokenPrefix: "en:", Scheme: "iob2"}}, dir, 1, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got, err := conll.ReadFile(d.Train, conll.Options{TokenPrefix: "en:"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 3 || !slices.Equal(got[0].Words, []string{"the", "city", "Paris"}) {
		t.Fatalf("augmented: %v", got)
	}
	if !slices.Equal(got[1].Tags, got[0].Tags) || slices.Equal(got[1].Words, got[0].Words) {
		t.Errorf("copy %v of %v", got[1], got[0])
	}
	if _, err := a.augmentDataset("sst", datasets.Config{Format: "tsv", Train: src}, dir, 1, io.Discard); err == nil {
		t.Error("no error for a tsv dataset")
	}
}

// TestAugmentedJob runs stage 2 on an augmented training set.
func TestAugmentedJob(t *testing.T) {
	hier := teacherRun(t, "hier", hierTasks)
	out := filepath.Join(t.TempDir(), "aug")
	raw := stage2(out, "teacher: "+hier, 4, "  augment: {factor: 2, model: "+mlmCheckpoint(t)+"}\n")
	runJob(t, raw, false)
	sents, err := conllu.ReadFile(filepath.Join(out, augmentedDir, "ewt-train.conllu"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sents) <= 32 {
		t.Errorf("%d training sentences from 32 with factor 2", len(sents))
	}
	b, _ := os.ReadFile(filepath.Join(StudentRun(out), "config.yaml"))
	if !strings.Contains(string(b), filepath.Join(out, augmentedDir, "ewt-train.conllu")) {
		t.Errorf("the student does not train on the augmented set:\n%s", b)
	}
	if _, err := finetune.Open(StudentRun(out), "latest"); err != nil {
		t.Fatal(err)
	}
}
