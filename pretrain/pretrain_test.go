package pretrain

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hiertune/hiertune/loader"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/run"
	"github.com/hiertune/hiertune/train"
	"go.yaml.in/yaml/v3"
)

// words is a small vocabulary for hand-made corpora.
var words = strings.Fields("the cat dog sat on a mat ran to park big small red blue house tree and with under over")

func testTokenizer(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","}
	vocab = append(vocab, words...)
	vocab = append(vocab, "##s", "##ed", "##ing")
	tok, err := tokenizer.NewBert(vocab, tokenizer.BertOptions{Lowercase: true})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// writeCorpus writes n random sentences, with a blank line every 7.
func writeCorpus(t *testing.T, n int, seed uint64) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, seed))
	var b strings.Builder
	for i := 0; i < n; i++ {
		k := 3 + r.IntN(9)
		for j := 0; j < k; j++ {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[r.IntN(len(words))])
			if r.IntN(5) == 0 {
				b.WriteString("s")
			}
		}
		b.WriteString(" .\n")
		if i%7 == 6 {
			b.WriteString("\n")
		}
	}
	p := filepath.Join(t.TempDir(), "corpus.txt")
	os.WriteFile(p, []byte(b.String()), 0o644)
	return p
}

func TestMaskingRules(t *testing.T) {
	tok := testTokenizer(t)
	k := masker{specials: tok.Specials(), vocab: tok.VocabSize(), prob: 0.15, wholeWord: true, replace: [3]float64{0.8, 0.1, 0.1}, sentence: "none"}
	e := tok.Encode(strings.Repeat("the cats sat on the mat and dogs ran to the park . ", 20))
	seq := make([]uint32, len(e.IDs))
	for i, id := range e.IDs {
		seq[i] = uint32(id)
		if i == 0 || e.WordIndex[i] != e.WordIndex[i-1] {
			seq[i] |= startsWord
		}
	}
	var masked, asMask, kept, total int
	for trial := 0; trial < 200; trial++ {
		ex := k.example(seq, nil, rand.New(rand.NewPCG(1, uint64(trial))))
		if ex.ids[0] != tok.Specials().CLS || ex.ids[len(ex.ids)-1] != tok.Specials().SEP || ex.labels[0] != ignore {
			t.Fatal("special tokens wrong or masked")
		}
		n := 0
		for i, l := range ex.labels {
			if l == ignore {
				continue
			}
			n++
			// Whole words: "cats" is cat ##s; both or neither are masked.
			p := seq[i-1]
			if p&startsWord != 0 && i < len(seq) && seq[i]&startsWord == 0 && ex.labels[i+1] == ignore {
				t.Fatalf("trial %d: piece %d masked without the rest of its word", trial, i)
			}
			switch ex.ids[i] {
			case tok.Specials().MASK:
				asMask++
			case l:
				kept++
			}
		}
		masked += n
		total += len(seq)
		if want := int(0.15*float64(len(seq)) + 0.5); n > want || n < want-3 {
			t.Fatalf("trial %d: %d masked, want about %d", trial, n, want)
		}
	}
	if f := float64(asMask) / float64(masked); f < 0.75 || f > 0.85 {
		t.Errorf("[MASK] share %.3f, want 0.8", f)
	}
	// Unchanged: the 10% kept plus random draws that hit the same token.
	if f := float64(kept) / float64(masked); f < 0.07 || f > 0.15 {
		t.Errorf("unchanged share %.3f, want about 0.1", f)
	}
}

func TestSentenceOrder(t *testing.T) {
	tok := testTokenizer(t)
	k := masker{specials: tok.Specials(), vocab: tok.VocabSize(), prob: 0.15, wholeWord: true, replace: [3]float64{0.8, 0.1, 0.1}, sentence: "sop"}
	var seq []uint32
	for _, s := range []string{"the cat sat .", "a dog ran ."} {
		e := tok.Encode(s)
		for i, id := range e.IDs {
			v := uint32(id) | startsWord
			if i == 0 {
				v |= startsLine
			}
			seq = append(seq, v)
		}
	}
	swapped := 0
	for trial := 0; trial < 100; trial++ {
		ex := k.example(seq, nil, rand.New(rand.NewPCG(2, uint64(trial))))
		if len(ex.ids) != len(seq)+3 || ex.types[len(ex.types)-1] != 1 || ex.types[1] != 0 {
			t.Fatalf("pair layout wrong: %v %v", ex.ids, ex.types)
		}
		catFirst := ex.labels[1] == ignore && ex.ids[1] == int(seq[0]&idMask) || ex.labels[1] == int(seq[0]&idMask)
		if (ex.sentence == 1) == catFirst {
			t.Fatalf("label %d but the first segment starts with the first sentence: %v", ex.sentence, catFirst)
		}
		swapped += ex.sentence
	}
	if swapped < 30 || swapped > 70 {
		t.Errorf("%d of 100 swapped", swapped)
	}
}

func TestTokenizeSplitsAndPacks(t *testing.T) {
	tok := testTokenizer(t)
	corpus := writeCorpus(t, 400, 3)
	dir := t.TempDir()
	m, err := Tokenize([]string{corpus}, tok, 20, 0.1, true, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.Lines["heldout"] < 20 || m.Lines["heldout"] > 70 {
		t.Errorf("%d of 400 lines held out at 10%%", m.Lines["heldout"])
	}
	d, err := OpenDataset(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	total := 0
	for i := 0; i < d.Len(); i++ {
		s, _ := d.Sequence(i)
		if len(s) == 0 || len(s) > 20 {
			t.Fatalf("sequence %d has %d pieces", i, len(s))
		}
		if s[0]&startsWord == 0 {
			t.Fatalf("sequence %d starts inside a word", i)
		}
		total += len(s)
	}
	if total != m.Tokens["train"] {
		t.Errorf("sequences hold %d pieces, manifest says %d", total, m.Tokens["train"])
	}
	// Packing puts several short lines in one sequence.
	if d.Len() >= m.Lines["train"] {
		t.Errorf("%d sequences for %d lines: nothing packed", d.Len(), m.Lines["train"])
	}
}

func TestBadCorpora(t *testing.T) {
	tok := testTokenizer(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	blank := filepath.Join(dir, "blank.txt")
	os.WriteFile(blank, []byte("\n\n   \n"), 0o644)
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("the cat sat\nthe \xff dog\n"), 0o644)
	cases := map[string]string{empty: "has no training text", blank: "has no training text", bad: "bad.txt:2: invalid UTF-8"}
	for file, want := range cases {
		_, err := Tokenize([]string{file}, tok, 20, 0.1, true, t.TempDir(), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", filepath.Base(file), err, want)
		}
	}
	// A line longer than a sequence is split at word boundaries.
	long := filepath.Join(dir, "long.txt")
	text := strings.Repeat("the big cats sat on the mat . ", 30) + "\n"
	for i := 0; i < 40; i++ {
		text += words[i%len(words)] + " dog .\n"
	}
	os.WriteFile(long, []byte(text), 0o644)
	out := t.TempDir()
	m, err := Tokenize([]string{long}, tok, 16, 0.2, true, out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m.LongLines != 1 {
		t.Errorf("%d long lines, want 1", m.LongLines)
	}
	if m.Lines["heldout"] == 0 {
		t.Fatal("nothing held out")
	}
	d, _ := OpenDataset(out, "train")
	defer d.Close()
	for i := 0; i < d.Len(); i++ {
		s, _ := d.Sequence(i)
		if len(s) > 16 || s[0]&startsWord == 0 {
			t.Fatalf("sequence %d: %d pieces, first starts a word: %v", i, len(s), s[0]&startsWord != 0)
		}
	}
}

func smallConfig(t *testing.T, out string, steps int) (*Config, []byte) {
	t.Helper()
	corpus := writeCorpus(t, 600, 4)
	vocab := filepath.Join(t.TempDir(), "vocab.txt")
	var b bytes.Buffer
	tokenizer.WriteVocabTxt(&b, append(append([]string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ","}, words...), "##s", "##ed", "##ing"))
	os.WriteFile(vocab, b.Bytes(), 0o644)
	raw := []byte(`output: ` + out + `
model: {preset: micro, layers: 2, hidden: 32, heads: 2, intermediate: 64}
vocab: {file: ` + vocab + `}
data: {files: [` + corpus + `], max_length: 24, heldout: 0.1, eval_sequences: 40}
train: {batch_size: 8, steps: ` + strconv.Itoa(steps) + `, learning_rate: 1e-3, eval_every: 5, save_every: 4, threads: 2}
`)
	cfg, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, raw
}

// TestResumeIsExact interrupts a run, resumes it, and checks that the final
// weights equal those of an uninterrupted run bit for bit.
func TestResumeIsExact(t *testing.T) {
	dir := t.TempDir()
	cfgA, rawA := smallConfig(t, filepath.Join(dir, "a"), 16)
	if err := Run(context.Background(), cfgA, rawA, run.New, io.Discard); err != nil {
		t.Fatal(err)
	}
	cfgB := *cfgA
	cfgB.Output = filepath.Join(dir, "b")
	rawB := bytes.Replace(rawA, []byte(cfgA.Output), []byte(cfgB.Output), 1)
	ctx, cancel := context.WithCancel(context.Background())
	afterStep = func(step int) {
		if step == 7 {
			cancel()
		}
	}
	defer func() { afterStep = nil }()
	if err := Run(ctx, &cfgB, rawB, run.New, io.Discard); !errors.Is(err, train.ErrStopped) {
		t.Fatalf("interrupted run returned %v", err)
	}
	afterStep = nil
	if err := Run(context.Background(), &cfgB, rawB, run.Continue, io.Discard); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(cfgA.Output, "checkpoints", "step-0000016", "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(cfgB.Output, "checkpoints", "step-0000016", "model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("the resumed run ended with different weights")
	}
	// The checkpoint it resumed from (step 7) was pruned before the last
	// save, which must still carry the tokenizer.
	if _, err := os.Stat(filepath.Join(cfgB.Output, "checkpoints", "step-0000007")); err == nil {
		t.Error("step 7 was not pruned; the test no longer covers a resumed run outliving its checkpoint")
	}
	for _, ck := range []string{"step-0000016", "best"} {
		if _, err := os.Stat(filepath.Join(cfgB.Output, "checkpoints", ck, "vocab.txt")); err != nil {
			t.Errorf("the resumed run's %s checkpoint has no tokenizer: %v", ck, err)
		}
	}
	// The checkpoint is a HuggingFace BertForMaskedLM directory.
	ck, err := loader.Read(filepath.Join(cfgA.Output, "checkpoints", "step-0000016"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ck.Model(); err != nil {
		t.Fatal(err)
	}
	if extra := ck.Extra(); len(extra) != 5 || !strings.HasPrefix(extra[0], "cls.predictions.") {
		t.Errorf("head tensors %v", extra)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]string{
		"output: x\ndata: {files: [a]}\ntrain: {steps: 10}\nvocab: {size: 1000}\nbogus: 1\n":                    `unknown key "bogus"`,
		"data: {files: [a]}\ntrain: {steps: 10}\nvocab: {size: 1000}\n":                                         "output",
		"output: x\ntrain: {steps: 10}\nvocab: {size: 1000}\n":                                                  "data.files",
		"output: x\ndata: {files: [a]}\ntrain: {steps: 10}\n":                                                   "vocab",
		"output: x\ndata: {files: [a]}\ntrain: {steps: 10}\nvocab: {size: 1000}\nobjective: {sentence: nope}\n": "objective.sentence",
		"output: x\ndata: {files: [a]}\ntrain: {steps: 10, time_limit: soon}\nvocab: {size: 1000}\n":            "invalid duration",
		"output: x\ndata: {files: [a]}\ntrain: {steps: 10}\nvocab: {size: 1000}\nmodel: {grow: {layers: 8}}\n":  "model.from",
		"output: x\ndata: {files: [a]}\ntrain: {steps: 10}\nmodel: {from: d, grow: {layers: 8, scheme: up}}\n":  "model.grow.scheme",
		"output: x\ndata: {files: [a]}\ntrain: {steps: 10}\nmodel: {from: d, grow: {scheme: stack}}\n":          "model.grow.layers",
	}
	for text, want := range cases {
		if _, err := ParseConfig([]byte(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", text, err, want)
		}
	}
}

// TestExampleConfigs parses the pretraining configurations in examples/.
func TestExampleConfigs(t *testing.T) {
	paths, _ := filepath.Glob("../examples/pretrain-*.yaml")
	if len(paths) == 0 {
		t.Fatal("no pretraining examples")
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

// TestResolvedConfigRoundTrips checks that a parsed configuration, written
// back as YAML (what the command saves in the run as config.yaml), parses
// to the same configuration.
func TestResolvedConfigRoundTrips(t *testing.T) {
	small, _ := smallConfig(t, t.TempDir(), 4)
	small.Train.TimeLimit = train.Duration{Duration: 90 * time.Minute}
	configs := []*Config{small}
	paths, _ := filepath.Glob("../examples/pretrain-*.yaml")
	for _, p := range paths {
		raw, _ := os.ReadFile(p)
		cfg, err := ParseConfig(raw)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		configs = append(configs, cfg)
	}
	for _, cfg := range configs {
		raw, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseConfig(raw)
		if err != nil {
			t.Fatalf("%v\n%s", err, raw)
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("round trip changed the configuration:\n%+v\n%+v", cfg, again)
		}
	}
}

// TestGrowAndResume grows a trained 2-layer model to 4 layers and trains
// it, and interrupts and resumes the same run: the resumed run, which
// continues from its own 4-layer checkpoint without growing again, ends as
// the uninterrupted one.
func TestGrowAndResume(t *testing.T) {
	dir := t.TempDir()
	base, raw := smallConfig(t, filepath.Join(dir, "base"), 8)
	if err := Run(context.Background(), base, raw, run.New, io.Discard); err != nil {
		t.Fatal(err)
	}
	from := filepath.Join(base.Output, "checkpoints", "step-0000008")
	grown := func(out string) (*Config, []byte) {
		r := []byte(`output: ` + out + `
model: {from: ` + from + `, grow: {layers: 4, scheme: stack}}
data: {files: [` + base.Data.Files[0] + `], max_length: 24, heldout: 0.1, eval_sequences: 40}
train: {batch_size: 8, steps: 8, learning_rate: 1e-3, eval_every: 5, save_every: 3, threads: 2}
`)
		cfg, err := ParseConfig(r)
		if err != nil {
			t.Fatal(err)
		}
		return cfg, r
	}
	cfgA, rawA := grown(filepath.Join(dir, "a"))
	var log bytes.Buffer
	if err := Run(context.Background(), cfgA, rawA, run.New, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "from 2 to 4 layers (stack)") {
		t.Errorf("the run did not say it grew the model: %s", log.String())
	}
	cfgB, rawB := grown(filepath.Join(dir, "b"))
	ctx, cancel := context.WithCancel(context.Background())
	afterStep = func(step int) {
		if step == 4 {
			cancel()
		}
	}
	defer func() { afterStep = nil }()
	if err := Run(ctx, cfgB, rawB, run.New, io.Discard); !errors.Is(err, train.ErrStopped) {
		t.Fatalf("interrupted run returned %v", err)
	}
	afterStep = nil
	if err := Run(context.Background(), cfgB, rawB, run.Continue, io.Discard); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(cfgA.Output, "checkpoints", "step-0000008", "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(cfgB.Output, "checkpoints", "step-0000008", "model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Fatal("the resumed grown run ended with different weights")
	}
	ck, err := loader.Read(filepath.Join(cfgA.Output, "checkpoints", "step-0000008"))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Config.NumHiddenLayers != 4 {
		t.Errorf("the grown run's checkpoint has %d layers, want 4", ck.Config.NumHiddenLayers)
	}
}
