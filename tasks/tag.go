package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/heads/decode"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/onnx/graph"
	"github.com/hiertune/hiertune/tensor"
)

func init() { Register("tag", tagType{}) }

// TagOptions are the options of a tag task: a label per word from one
// column (upos, xpos, feats as one tag, lemma or deprel of CoNLL-U; the
// tags of CoNLL NER data), with an optional CRF.
type TagOptions struct {
	// Column is the annotation column predicted; it may be left out when
	// the dataset has only one.
	Column string `yaml:"column"`
	CRF    bool   `yaml:"crf"`
	// Pooling is how a word's pieces become one vector (heads.PoolModes).
	Pooling string `yaml:"pooling"`
}

type tagType struct{}

func (tagType) Options() any { return &TagOptions{Pooling: "first"} }

func (tagType) New(cfg *Config, d Data) (Head, error) {
	o := cfg.Options.(*TagOptions)
	if !d.WordLevel {
		return nil, fmt.Errorf("a tag task needs word-level data, %s is %s", d.Name, d.Format)
	}
	var columns []string
	for _, c := range d.Columns {
		if c != "head" {
			columns = append(columns, c)
		}
	}
	if o.Column == "" && len(columns) == 1 {
		o.Column = columns[0]
	}
	if !slices.Contains(columns, o.Column) {
		return nil, fmt.Errorf("column must be one of %s, got %q", strings.Join(columns, ", "), o.Column)
	}
	if !slices.Contains(heads.PoolModes, o.Pooling) {
		return nil, fmt.Errorf("pooling must be one of %v, got %q", heads.PoolModes, o.Pooling)
	}
	return &tagHead{words: words{name: cfg.Name, pooling: o.Pooling}, opt: *o, scheme: d.Scheme}, nil
}

// words is what the heads of word-level tasks share: the pooling of a
// word's pieces, and the layout of word scores.
type words struct {
	name    string
	pooling string
	pooler  *heads.WordPooler
}

func (w *words) buildPooler(hidden int, rng *rand.Rand) error {
	var err error
	w.pooler, err = heads.NewWordPooler(w.pooling, hidden, rng)
	return err
}

// pool returns the words of the input packed (one row per word) or, for
// a graph, in word slots.
func (w *words) pool(in *Input) (mat.Tensor, wordLayout) {
	if in.Graph {
		x, s := in.Slots(w.pooler)
		return x, wordLayout{counts: in.Batch.WordCounts(), W: s.W}
	}
	x, counts := in.Words(w.pooler)
	return x, wordLayout{counts: counts}
}

// export returns the task's words in word slots of an exported graph.
func (w *words) export(in GraphInput) (string, error) { return in.Words(w.pooler) }

// wordLayout says how rows of word scores are laid out: packed, the
// counts[i] words of example i after those of the examples before it, or
// in word slots, W rows per example of which rows 1..counts[i] are its
// words.
type wordLayout struct {
	counts []int
	W      int // 0: packed
}

// packed returns the rows of the words of values (k per row), packed.
func (l wordLayout) packed(values []float32, k int) []float32 {
	if l.W == 0 {
		return values
	}
	var out []float32
	for e, n := range l.counts {
		out = append(out, values[(e*l.W+1)*k:(e*l.W+1+n)*k]...)
	}
	return out
}

// split cuts a packed per-word list into the examples' words.
func split[T any](counts []int, all []T) [][]T {
	out := make([][]T, len(counts))
	at := 0
	for i, n := range counts {
		out[i] = all[at : at+n]
		at += n
	}
	return out
}

// logitScores are the logits of a word-level head over its labels.
type logitScores struct {
	logits mat.Tensor
	layout wordLayout
}

// graphLogits returns the logits, laid out in word slots, as the graph's
// output [examples, W, labels].
func (s *logitScores) graphLogits(name string, k int) (map[string]*tensor.Tensor, error) {
	if s.layout.W == 0 {
		return nil, fmt.Errorf("task %s: scores not laid out as a graph's", name)
	}
	return map[string]*tensor.Tensor{LogitsOutput(name): tensor.FromFloat32([]int{len(s.layout.counts), s.layout.W, k}, kernels.Values(s.logits))}, nil
}

// logitsFromGraph takes a word-level head's logits from a graph's output.
func logitsFromGraph(name string, k int, outs map[string]*tensor.Tensor, b *Batch) (*logitScores, error) {
	counts := b.WordCounts()
	W := 1
	for _, n := range counts {
		W = max(W, n+1)
	}
	v, err := graphOutput(outs, LogitsOutput(name), len(counts), W, k)
	if err != nil {
		return nil, err
	}
	return &logitScores{logits: kernels.NewMatrix(len(counts)*W, k, v), layout: wordLayout{counts: counts, W: W}}, nil
}

// exportLogits adds a linear layer on word slots as the task's logits
// output.
func exportLogits(in GraphInput, x string, out *encoder.Linear, k int) ([]*onnx.ValueInfo, error) {
	g, name := in.Graph(), in.Name()
	logits, err := g.Linear(name+".out", x, out)
	if err != nil {
		return nil, err
	}
	g.Rename(logits, LogitsOutput(name))
	return []*onnx.ValueInfo{graph.FloatInfo(LogitsOutput(name), graph.Dims("examples", "words", k))}, nil
}

// LogitsOutput names the output of a task that scores labels: logits
// [examples, words, labels] over word slots, or [batch, labels] for a
// sentence-level task.
func LogitsOutput(task string) string { return task + ".logits" }

// graphOutput returns the values of a graph's F32 output of the given
// shape.
func graphOutput(outs map[string]*tensor.Tensor, name string, shape ...int) ([]float32, error) {
	o := outs[name]
	if o == nil {
		return nil, fmt.Errorf("no output %q", name)
	}
	if o.DType != tensor.F32 || !slices.Equal(o.Shape, shape) {
		return nil, fmt.Errorf("output %q is %s%v, want F32%v", name, o.DType, o.Shape, shape)
	}
	return o.Float32()
}

type tagHead struct {
	words
	opt    TagOptions
	scheme string
	tagger *heads.Tagger
	index  map[string]int
}

func (h *tagHead) Columns() []string { return []string{h.opt.Column} }

func (h *tagHead) Check(*Example) error { return nil }

func (h *tagHead) Vocabulary(train []*Example) []string { return vocabulary(train, h.opt.Column, nil) }

func (h *tagHead) Build(labels []string, hidden int, _ []*Example, rng *rand.Rand) error {
	h.index = labelIndex(labels)
	if err := h.buildPooler(hidden, rng); err != nil {
		return err
	}
	h.tagger = heads.NewTagger(hidden, labels, h.opt.CRF, rng)
	if h.opt.CRF && (h.scheme == "iob2" || h.scheme == "iobes") {
		var err error
		if h.scheme == "iobes" {
			h.tagger.Allowed, err = decode.IOBESConstraints(labels)
		} else {
			h.tagger.Allowed, err = decode.IOB2Constraints(labels)
		}
		return err
	}
	return nil
}

func (h *tagHead) Params() []encoder.NamedParam {
	return append(h.pooler.NamedParams(), h.tagger.NamedParams()...)
}

func (h *tagHead) Scores(in *Input, d heads.Dropout) (Scores, error) {
	x, layout := h.pool(in)
	return &logitScores{logits: h.tagger.Logits(x, d()), layout: layout}, nil
}

func (h *tagHead) Loss(s Scores, b *Batch) (mat.Tensor, error) {
	ls := s.(*logitScores)
	var gold []int
	for _, ex := range b.Examples {
		gold = append(gold, indices(h.index, ex.Gold.Column(h.opt.Column))...)
	}
	return h.tagger.Loss(ls.logits, gold, ls.layout.counts)
}

func (h *tagHead) Predict(s Scores, b *Batch) ([]Prediction, error) {
	ls := s.(*logitScores)
	idx, err := h.tagger.Decode(ls.layout.packed(kernels.Values(ls.logits), len(h.tagger.Labels)), ls.layout.counts)
	if err != nil {
		return nil, err
	}
	out := make([]Prediction, len(b.Examples))
	for i, ix := range split(ls.layout.counts, idx) {
		out[i] = Prediction{h.opt.Column: names(h.tagger.Labels, ix)}
	}
	return out, nil
}

func (h *tagHead) Targets(s Scores, b *Batch) ([]Target, error) {
	ls := s.(*logitScores)
	return []Target{{Name: h.name, Scores: ls.logits, Rows: ls.layout.counts, Cols: same(len(b.Examples), len(h.tagger.Labels))}}, nil
}

func (h *tagHead) Outputs() []string { return []string{LogitsOutput(h.name)} }

func (h *tagHead) GraphOutputs(s Scores) (map[string]*tensor.Tensor, error) {
	return s.(*logitScores).graphLogits(h.name, len(h.tagger.Labels))
}

func (h *tagHead) FromGraph(outs map[string]*tensor.Tensor, b *Batch) (Scores, error) {
	return logitsFromGraph(h.name, len(h.tagger.Labels), outs, b)
}

func (h *tagHead) Export(in GraphInput) ([]*onnx.ValueInfo, error) {
	x, err := h.export(in)
	if err != nil {
		return nil, err
	}
	return exportLogits(in, x, h.tagger.Out, len(h.tagger.Labels))
}

// same returns n copies of k.
func same(n, k int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = k
	}
	return out
}
