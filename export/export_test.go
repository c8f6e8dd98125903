package export_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/export"
	"github.com/hiertune/hiertune/export/ort"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/run"
)

// sample data shipped with the repository
const (
	ewtTrain = "../examples/data/ewt-sample-train.conllu"
	ewtDev   = "../examples/data/ewt-sample-dev.conllu"
	// dev holds the first 24 sentences of ewtDev, to keep tests fast.
	dev = "testdata/dev.conllu"
)

const hierBody = `datasets:
  ewt: {format: conllu, train: ` + ewtTrain + `, dev: ` + dev + `, limit: 16}
tasks:
  - {name: upos, dataset: ewt, type: tag, column: upos, layer: 1}
  - {name: feats, dataset: ewt, type: feats, layer: 1}
  - {name: deps, dataset: ewt, type: parse, layer: 2, arc_mlp: 16, rel_mlp: 8}
train: {batch_size: 8, steps: 1, learning_rate: 1e-3, head_learning_rate: 1e-2, threads: 2, eval_every: 1, select: ewt.las, eval_batch_size: 16}
`

// trained caches the models of train by job body: the tests only read
// them (and restore the engine they set).
var trained = map[string]*model.Model{}

// train runs a tiny fine-tuning job on the embedded tiny-random checkpoint
// and opens its model.
func train(t *testing.T, body string) *model.Model {
	t.Helper()
	if m, ok := trained[body]; ok {
		return m
	}
	dir := t.TempDir()
	t.Setenv("HIERTUNE_CACHE", filepath.Join(dir, "cache"))
	out := filepath.Join(dir, "run")
	raw := []byte("output: " + out + "\nmodel: tiny-random\n" + body)
	cfg, err := finetune.ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := finetune.Run(context.Background(), cfg, raw, run.New, io.Discard, nil); err != nil {
		t.Fatal(err)
	}
	m, err := finetune.Open(out, "latest")
	if err != nil {
		t.Fatal(err)
	}
	perturb(m)
	trained[body] = m
	return m
}

// perturb draws the adapters' weights at random: a run of one step leaves
// them near their neutral start (uniform mixes, closed gates), where a
// wrong graph could still agree with hiertune.
func perturb(m *model.Model) {
	rng := rand.New(rand.NewPCG(1, 2))
	var ps []*nn.Param
	if d := m.DepthMixer(); d != nil {
		for _, np := range d.NamedParams() {
			ps = append(ps, np.Param)
		}
	}
	if w := m.EncoderWordPooling(); w != nil && w.Score != nil {
		ps = append(ps, w.Score.Weight, w.Score.Bias)
	}
	for _, t := range m.Tasks {
		if t.Mixer != nil {
			for _, np := range t.Mixer.NamedParams() {
				ps = append(ps, np.Param)
			}
		}
		for _, np := range t.Head.Params() {
			if strings.HasPrefix(np.Name, "pool.") {
				ps = append(ps, np.Param)
			}
		}
	}
	for _, p := range ps {
		v := kernels.Values(p)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.5)
		}
	}
}

// write exports m to a file and returns its path.
func write(t *testing.T, m *model.Model, opt export.Options) string {
	t.Helper()
	om, err := export.Model(m, opt)
	if err != nil {
		t.Fatal(err)
	}
	return writeONNX(t, om)
}

// writeONNX writes om to a file and returns its path.
func writeONNX(t *testing.T, om *onnx.Model) string {
	t.Helper()
	b, err := om.Encode()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// needORT skips the test when ONNX Runtime cannot run here.
func needORT(t *testing.T) {
	t.Helper()
	if err := ort.Available(""); err != nil {
		t.Skipf("ONNX Runtime is not available (run scripts/setup.sh; build with cgo): %v", err)
	}
}

// session opens path with ONNX Runtime.
func session(t *testing.T, path string) *ort.Session {
	t.Helper()
	s, err := ort.Open(path, ort.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// tasksBody is hierBody with other tasks.
func tasksBody(tasks ...string) string {
	body := "datasets:\n  ewt: {format: conllu, train: " + ewtTrain + ", dev: " + dev + ", limit: 16}\ntasks:\n"
	for _, t := range tasks {
		body += "  - {dataset: ewt, " + t + "}\n"
	}
	return body + hierBody[strings.Index(hierBody, "\ntrain:")+1:]
}

// parityCases are the models whose export must match hiertune's engine:
// every layer mix, word pooling mode, adapter and head.
var parityCases = []struct {
	name, body string
	opset      int
}{
	{"hierarchical", hierBody, 0},
	{"mixes", tasksBody(
		"name: upos, type: tag, column: upos, mix: {mode: scalar}",
		"name: xpos, type: tag, column: xpos, mix: {mode: concat, layers: [1, 2]}",
		"name: lemma, type: tag, column: lemma, mix: {mode: attention, diff: true}",
		"name: feats, type: feats, mix: {mode: scalar, diff: true, layers: [1, 2]}",
		"name: deps, type: parse, arc_mlp: 16, rel_mlp: 8, mix: {mode: attention}",
	), 0},
	{"poolings", tasksBody(
		"name: upos, type: tag, column: upos, layer: 2, pooling: mean, crf: true",
		"name: xpos, type: tag, column: xpos, layer: 0, pooling: last",
		"name: lemma, type: tag, column: lemma, layer: 1, pooling: sum",
		"name: feats, type: feats, layer: 1, pooling: attention",
		"name: deps, type: parse, layer: -1, arc_mlp: 16, rel_mlp: 8, pooling: attention, decoder: eisner",
	), 0},
	{"depth-static-words-after-0-mean", "depth_mixing: static\nword_pooling: {after: 0, mode: mean}\n" + hierBody, 0},
	{"words-after-1-attention-opset-21", "word_pooling: {after: 1, mode: attention}\n" + hierBody, 21},
	// Sentences longer than 16 pieces are split into overlapping windows.
	{"windows-words-after-2-mean", "max_length: 16\nword_pooling: {after: 2, mode: mean}\n" + hierBody, 0},
	{"depth-attention-words-first", "depth_mixing: attention\nword_pooling: {after: 1, mode: first}\n" + hierBody, 0},
	{"pairs-triangle-parser", "pairs: {dim: 4, triangle: true, triangle_max_length: 128, parser: true}\n" + hierBody, 0},
	{"pairs-windows-no-positions", "max_length: 16\npairs: {dim: 4, parser: true, no_positions: true, from: 2}\n" + hierBody, 0},
}

// TestParity exports models with every adapter and checks that ONNX
// Runtime's outputs match hiertune's within 1e-4, and that predicting
// through ONNX Runtime writes the same file as hiertune's engine.
func TestParity(t *testing.T) {
	for _, c := range parityCases {
		t.Run(c.name, func(t *testing.T) {
			needORT(t)
			m := train(t, c.body)
			path := write(t, m, export.Options{Opset: c.opset, HiddenStates: []int{0, 2}})
			s := session(t, path)
			checkParity(t, m, s, "", dev)
			checkPredict(t, m, s, "ewt", dev)
		})
	}
}

// checkParity compares every output of the session with hiertune's
// engine on a dataset's file.
func checkParity(t *testing.T, m *model.Model, s *ort.Session, dataset, path string) {
	t.Helper()
	diff, err := export.Compare(m, s, s.OutputNames(), dataset, path, 8, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) == 0 {
		t.Fatal("no outputs compared")
	}
	for name, d := range diff {
		t.Logf("%s: max abs diff %.3g", name, d)
		if d > 1e-4 {
			t.Errorf("%s: max abs diff %g", name, d)
		}
	}
}

// checkPredict predicts a file with both engines and compares the output.
func checkPredict(t *testing.T, m *model.Model, s *ort.Session, dataset, path string) {
	t.Helper()
	var want, got bytes.Buffer
	if err := m.PredictFile(dataset, path, &want, 8, io.Discard); err != nil {
		t.Fatal(err)
	}
	m.SetEngine(export.NewEngine(m, s))
	defer m.SetEngine(nil)
	if err := m.PredictFile(dataset, path, &got, 8, io.Discard); err != nil {
		t.Fatal(err)
	}
	if want.String() != got.String() {
		t.Errorf("predictions through ONNX Runtime differ from hiertune's:\n%s\n---\n%s", firstDiff(want.String(), got.String()), "")
	}
}

// firstDiff returns the first differing lines of two texts.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(al), len(bl)) {
		if al[i] != bl[i] {
			return al[i] + "\n" + bl[i]
		}
	}
	return "(lengths differ)"
}

// TestParityNERAndClassification exports a model with a CRF tagger on
// CoNLL data and two sentence classifiers on TSV data, and checks both
// datasets.
func TestParityNERAndClassification(t *testing.T) {
	needORT(t)
	dir := t.TempDir()
	ner := filepath.Join(dir, "ner.txt")
	var b strings.Builder
	for range 8 {
		b.WriteString("John\tB-PER\nSmith\tI-PER\nlives\tO\nin\tO\nParis\tB-LOC\n.\tO\n\nThe\tO\nUnited\tB-ORG\nNations\tI-ORG\nmet\tO\n\n")
	}
	cls := filepath.Join(dir, "cls.tsv")
	rows := "sentence\tlabel\n"
	for range 8 {
		rows += "a good film\t1\nterrible , boring and far too long\t0\n"
	}
	for path, text := range map[string]string{ner: b.String(), cls: rows} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	m := train(t, `datasets:
  ner: {format: conll, train: `+ner+`, dev: `+ner+`, scheme: iob2}
  sst: {format: tsv, train: `+cls+`, dev: `+cls+`, text: sentence}
tasks:
  - {name: ner, dataset: ner, type: tag, crf: true, layer: -1, pooling: mean}
  - {name: sentiment, dataset: sst, type: classify, layer: -1}
  - {name: sentiment_mean, dataset: sst, type: classify, layer: 1, pooling: mean}
sampling: round-robin
train: {batch_size: 8, steps: 1, eval_every: 1, select: ner.ner_f1}
`)
	s := session(t, write(t, m, export.Options{}))
	for dataset, path := range map[string]string{"ner": ner, "sst": cls} {
		checkParity(t, m, s, dataset, path)
		checkPredict(t, m, s, dataset, path)
	}
}

// rewire renames value old to new in every node input.
func rewire(g *onnx.Graph, old, new string) {
	for _, n := range g.Node {
		for i, in := range n.Input {
			if in == old {
				n.Input[i] = new
			}
		}
	}
}

func input(g *onnx.Graph, name string) *onnx.ValueInfo {
	for _, v := range g.Input {
		if v.Name == name {
			return v
		}
	}
	panic("no input " + name)
}

// TestBadModelFiles checks that model files that do not fit the run — an
// input missing, another element type, a fixed size the data does not
// have, an output missing — give Go errors that name the input or output,
// both when the graph is checked on opening and when it runs.
func TestBadModelFiles(t *testing.T) {
	needORT(t)
	m := train(t, hierBody)
	cases := []struct {
		name   string
		change func(g *onnx.Graph)
		open   string // CheckGraph's error, "" for none
		run    string // Predict's error
	}{
		{"missing input", func(g *onnx.Graph) {
			input(g, export.TokenTypeIDs).Name = "segment_ids"
			rewire(g, export.TokenTypeIDs, "segment_ids")
		}, `the graph takes input segment_ids INT64[batch, seq], which this run does not provide`, `the graph has no input "token_type_ids"`},
		{"wrong dtype", func(g *onnx.Graph) {
			input(g, export.AttentionMask).Type.Tensor.ElemType = onnx.Float
			rewire(g, export.AttentionMask, "mask_i64")
			g.Node = append([]*onnx.Node{{OpType: "Cast", Input: []string{export.AttentionMask}, Output: []string{"mask_i64"},
				Attribute: []*onnx.Attribute{{Name: "to", Type: onnx.AttributeInt, I: int64(onnx.Int64)}}}}, g.Node...)
		}, `the graph takes input attention_mask FLOAT[batch, seq]; hiertune feeds INT64`, `input "attention_mask" is I64, the graph takes F32`},
		{"fixed size", func(g *onnx.Graph) {
			input(g, export.InputIDs).Type.Tensor.Shape.Dim[1] = onnx.Dimension{Value: 8, HasValue: true}
		}, "", `input "input_ids" has shape [8 `},
		{"missing output", func(g *onnx.Graph) {
			for _, o := range g.Output {
				if o.Name == "upos.logits" {
					o.Name = "tags"
				}
			}
			for _, n := range g.Node {
				if n.Output[0] == "upos.logits" {
					n.Output[0] = "tags"
				}
			}
		}, `the graph has no output "upos.logits"`, `the graph has no output "upos.logits"`},
	}
	t.Run("invalid graph", func(t *testing.T) {
		om, err := export.Model(m, export.Options{})
		if err != nil {
			t.Fatal(err)
		}
		om.Graph.Output[0].Name = "nothing"
		if _, err := ort.Open(writeONNX(t, om), ort.Options{}); err == nil || !strings.Contains(err.Error(), "nothing") {
			t.Errorf("Open: %v, want ONNX Runtime's complaint about output nothing", err)
		}
	})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			om, err := export.Model(m, export.Options{})
			if err != nil {
				t.Fatal(err)
			}
			c.change(om.Graph)
			s := session(t, writeONNX(t, om))
			err = export.CheckGraph(m, s.Inputs(), s.Outputs())
			if c.open == "" && err != nil || c.open != "" && (err == nil || !strings.Contains(err.Error(), c.open)) {
				t.Errorf("CheckGraph: %v, want %q", err, c.open)
			}
			m.SetEngine(export.NewEngine(m, s))
			defer m.SetEngine(nil)
			err = m.PredictFile("", dev, io.Discard, 8, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.run) {
				t.Errorf("Predict: %v, want %q", err, c.run)
			}
		})
	}
}

// TestDeclarations checks, without ONNX Runtime, the inputs and outputs an
// export declares for each kind of model, its opset and label metadata, and
// that the file decodes to the same declarations.
func TestDeclarations(t *testing.T) {
	hier := train(t, hierBody)
	words := train(t, "word_pooling: {after: 1, mode: mean}\n"+tasksBody(
		"name: upos, type: tag, column: upos, layer: 1",
		"name: deps, type: parse, layer: 2, arc_mlp: 16, rel_mlp: 8"))
	cases := []struct {
		name            string
		m               *model.Model
		opt             export.Options
		inputs, outputs string
	}{
		{"hierarchical", hier, export.Options{},
			"input_ids[batch seq] attention_mask[batch seq] token_type_ids[batch seq] word_start[examples words] word_end[examples words]",
			"upos.logits[examples words 14] feats.logits[examples words 34] deps.arc_scores[examples words words] deps.label_scores[examples words words 34]"},
		{"hidden states", hier, export.Options{Opset: 18, HiddenStates: []int{2, 0, 2}},
			"input_ids[batch seq] attention_mask[batch seq] token_type_ids[batch seq] word_start[examples words] word_end[examples words]",
			"upos.logits[examples words 14] feats.logits[examples words 34] deps.arc_scores[examples words words] deps.label_scores[examples words words 34] hidden_states.0[batch seq 32] hidden_states.2[batch seq 32]"},
		{"word pooling", words, export.Options{HiddenStates: []int{1, 2}},
			"input_ids[batch seq] attention_mask[batch seq] token_type_ids[batch seq] word_start[examples words] word_end[examples words] unit_start[batch units] unit_end[batch units] unit_type[batch units] word_units[examples words]",
			"upos.logits[examples words 14] deps.arc_scores[examples words words] deps.label_scores[examples words words 34] hidden_states.1[batch seq 32] hidden_states.2[batch units 32]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			om, err := export.Model(c.m, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			b, err := om.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if om, err = onnx.Decode(b); err != nil {
				t.Fatal(err)
			}
			want := int64(max(c.opt.Opset, export.DefaultOpset))
			if len(om.OpsetImport) != 1 || om.OpsetImport[0].Version != want || om.IRVersion != 8 {
				t.Errorf("opsets %v, IR %d; want opset %d, IR 8", om.OpsetImport, om.IRVersion, want)
			}
			if got := declared(om.Graph.Input); got != c.inputs {
				t.Errorf("inputs\n%s\nwant\n%s", got, c.inputs)
			}
			if got := declared(om.Graph.Output); got != c.outputs {
				t.Errorf("outputs\n%s\nwant\n%s", got, c.outputs)
			}
			if len(om.MetadataProps) != 1 || !strings.Contains(om.MetadataProps[0].Value, `"upos":["ADJ",`) {
				t.Errorf("metadata %v", om.MetadataProps)
			}
		})
	}
}

// declared lists values as "name[dims]".
func declared(vs []*onnx.ValueInfo) string {
	var out []string
	for _, v := range vs {
		var ds []string
		for _, d := range v.Type.Tensor.Shape.Dim {
			if d.HasValue {
				ds = append(ds, strconv.FormatInt(d.Value, 10))
			} else {
				ds = append(ds, d.Param)
			}
		}
		out = append(out, v.Name+"["+strings.Join(ds, " ")+"]")
	}
	return strings.Join(out, " ")
}

// TestOptionErrors checks the options Model refuses.
func TestOptionErrors(t *testing.T) {
	m := train(t, hierBody)
	for _, c := range []struct {
		opt  export.Options
		want string
	}{
		{export.Options{Opset: 16}, "opset 16 is not supported"},
		{export.Options{Opset: 22}, "opset 22 is not supported"},
		{export.Options{HiddenStates: []int{3}}, "hidden state 3 does not exist in a 2-layer encoder"},
		{export.Options{HiddenStates: []int{-1}}, "hidden state -1 does not exist"},
	} {
		if _, err := export.Model(m, c.opt); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opt, err, c.want)
		}
	}
}

// TestONNXEngineKeepsTheLengthPolicy checks that predicting through ONNX
// Runtime follows the Go engine's length policy: a sentence of 1,000 words
// (encoder windows of 16 pieces, a million parser scores) gives the same
// file as hiertune's engine, and one of 2,000
// words, over max_words, is refused with the same one-line error instead
// of a 4.7 GB allocation.
func TestONNXEngineKeepsTheLengthPolicy(t *testing.T) {
	needORT(t)
	m := train(t, "max_length: 16\n"+hierBody)
	s := session(t, write(t, m, export.Options{}))
	dir := t.TempDir()
	long := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "%d\tword\tword\tNOUN\t_\t_\t%d\tdep\t_\t_\n", i, min(i-1, 1))
		}
		path := filepath.Join(dir, fmt.Sprintf("long%d.conllu", n))
		if err := os.WriteFile(path, []byte(b.String()+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	checkPredict(t, m, s, "ewt", long(1000))
	var goErr, ortErr error
	path := long(2000)
	goErr = m.PredictFile("ewt", path, io.Discard, 8, io.Discard)
	m.SetEngine(export.NewEngine(m, s))
	ortErr = m.PredictFile("ewt", path, io.Discard, 8, io.Discard)
	m.SetEngine(nil)
	want := "long2000.conllu:1: a sentence of 2000 words, more than the model's max_words 1024"
	if goErr == nil || ortErr == nil || !strings.Contains(ortErr.Error(), want) || goErr.Error() != ortErr.Error() {
		t.Errorf("a 2,000-word sentence: Go engine %v, ONNX Runtime %v", goErr, ortErr)
	}
}
