package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/onnx/graph"
	"github.com/hiertune/hiertune/tensor"
	"github.com/nlpodyssey/spago/mat"
)

// wordLabels is what the heads that score labels for each word (tag,
// feats, lemma) share: the pooling of a word's pieces, the linear layer
// that scores the labels (set by the head's Build), and the layouts of
// its logits — their scores, distillation targets, graph outputs and
// export.
type wordLabels struct {
	name    string
	pooling string
	pooler  *heads.WordPooler
	out     *encoder.Linear
	labels  int
	// sigmoid says the labels are independent (binary), not a softmax.
	sigmoid bool
}

// checkPooling refuses a way of pooling a word's pieces that
// heads.NewWordPooler does not know, when a task is configured.
func checkPooling(mode string) error {
	if !slices.Contains(heads.PoolModes, mode) {
		return fmt.Errorf("pooling must be one of %v, got %q", heads.PoolModes, mode)
	}
	return nil
}

func (w *wordLabels) buildPooler(hidden int, rng *rand.Rand) error {
	var err error
	w.pooler, err = heads.NewWordPooler(w.pooling, hidden, rng)
	return err
}

// pool returns the words of the input packed (one row per word) or, for
// a graph, in word slots.
func (w *wordLabels) pool(in *Input) (mat.Tensor, wordLayout) {
	if in.Graph {
		x, s := in.Slots(w.pooler)
		return x, wordLayout{counts: in.Batch.WordCounts(), W: s.W}
	}
	x, counts := in.Words(w.pooler)
	return x, wordLayout{counts: counts}
}

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

// exportLogits adds the linear layer out on x as the task's logits output,
// of the given shape.
func exportLogits(in GraphInput, x string, out *encoder.Linear, shape *onnx.Shape) ([]*onnx.ValueInfo, error) {
	g, name := in.Graph(), in.Name()
	logits, err := g.Linear(name+".out", x, out)
	if err != nil {
		return nil, err
	}
	g.Rename(logits, LogitsOutput(name))
	return []*onnx.ValueInfo{graph.FloatInfo(LogitsOutput(name), shape)}, nil
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

// Scores are the logits of the input's words: dropout and the linear
// layer on the pooled words.
func (w *wordLabels) Scores(in *Input, d heads.Dropout) (Scores, error) {
	x, layout := w.pool(in)
	return &logitScores{logits: w.out.Forward(kernels.DropoutOp(x, d())), layout: layout}, nil
}

func (w *wordLabels) Targets(s Scores, b *Batch) ([]Target, error) {
	ls := s.(*logitScores)
	return []Target{{Name: w.name, Sigmoid: w.sigmoid, Scores: ls.logits, Rows: ls.layout.counts, Cols: same(len(b.Examples), w.labels)}}, nil
}

func (w *wordLabels) Outputs() []string { return []string{LogitsOutput(w.name)} }

func (w *wordLabels) GraphOutputs(s Scores) (map[string]*tensor.Tensor, error) {
	return s.(*logitScores).graphLogits(w.name, w.labels)
}

func (w *wordLabels) FromGraph(outs map[string]*tensor.Tensor, b *Batch) (Scores, error) {
	return logitsFromGraph(w.name, w.labels, outs, b)
}

// Export adds the pooling and the linear layer on the word slots, the
// task's logits output.
func (w *wordLabels) Export(in GraphInput) ([]*onnx.ValueInfo, error) {
	x, err := in.Words(w.pooler)
	if err != nil {
		return nil, err
	}
	return exportLogits(in, x, w.out, graph.Dims("examples", "words", w.labels))
}

// same returns n copies of k.
func same(n, k int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = k
	}
	return out
}
