// Package tasks defines what a task is for hiertune — one implementation
// per task type, registered by name — and the examples and batches tasks
// read.
//
// A task type (tagging, morphological features, dependency parsing,
// classification, lemmatisation) owns everything that depends on what it
// predicts: its options and their validation, its label vocabulary and
// gold labels, its head, and one scoring path, Head.Scores, whose result
// feeds the loss, the decoding of predictions, the distillation targets and
// the scores of an exported graph; its Export writes the same computation
// as ONNX nodes. Everything else — reading datasets, choosing layers and
// mixes, batching, training, checkpoints, engines — calls the interface and
// never asks which type a task is.
//
// A new type is a file that implements Type and Head and registers itself:
//
//	func init() { tasks.Register("lemma", lemmaType{}) }
package tasks

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/adapters"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/onnx/graph"
	"github.com/hiertune/hiertune/tensor"
)

// Type is a kind of task.
type Type interface {
	// Options returns a new value of the type's options with their
	// defaults (a pointer to a struct with yaml tags), or nil when the
	// type has none.
	Options() any
	// New checks a task's configuration against its dataset and returns
	// its head, which has no modules until Build.
	New(cfg *Config, d Data) (Head, error)
}

// Data describes a task's dataset to its type.
type Data struct {
	Name   string
	Format string
	// Columns are the annotation columns the format reads (see
	// Annotation).
	Columns []string
	// WordLevel says that examples are words (tagging, parsing), not
	// texts (classification).
	WordLevel bool
	// Scheme is the tag scheme of NER data (iob1, iob2, iobes), or "".
	Scheme string
}

// Has reports whether the dataset has the named column.
func (d Data) Has(column string) bool { return slices.Contains(d.Columns, column) }

// Scores is what a head computes on a batch (its own type: the logits of a
// tagger, the arc and label scores of a parser...). The Head that made it
// reads it.
type Scores any

// Head is a task type's implementation for one task.
type Head interface {
	// Columns returns the annotation columns the task predicts.
	Columns() []string
	// Check reports what makes an example's gold annotation unusable for
	// the task (a parser's heads that do not form a tree), or nil.
	Check(ex *Example) error
	// Vocabulary returns the label vocabulary of the training examples.
	Vocabulary(train []*Example) []string
	// Build makes the head's modules for its labels over hidden-wide
	// states; train are the training examples (for priors), nil when the
	// weights come from a checkpoint.
	Build(labels []string, hidden int, train []*Example, rng *rand.Rand) error
	// Params returns the head's parameters under stable names.
	Params() []encoder.NamedParam

	// Scores computes the head's scores on its input, with dropout drawn
	// from d (heads.NoDropout for inference). It is the only place the
	// head's modules run.
	Scores(in *Input, d heads.Dropout) (Scores, error)
	// Loss returns the training loss of scores on the batch's gold
	// annotation.
	Loss(s Scores, b *Batch) (mat.Tensor, error)
	// Predict decodes scores into each example's predicted columns.
	Predict(s Scores, b *Batch) ([]Prediction, error)
	// Targets returns the scores as distillation targets, row blocks per
	// example (scores computed without dropout).
	Targets(s Scores, b *Batch) ([]Target, error)

	// Outputs names the task's outputs in an exported graph.
	Outputs() []string
	// GraphOutputs returns scores computed on a graph input (Input.Graph)
	// as the graph's output tensors.
	GraphOutputs(s Scores) (map[string]*tensor.Tensor, error)
	// FromGraph takes scores from an exported graph's outputs on b,
	// checking their shapes.
	FromGraph(outs map[string]*tensor.Tensor, b *Batch) (Scores, error)
	// Export adds the head to an ONNX graph and returns the outputs it
	// declares.
	Export(in GraphInput) ([]*onnx.ValueInfo, error)
}

// Target is a block of scores a student learns from a teacher: logits over
// classes, before the softmax (or for independent binary labels the
// sigmoid). Rows of Scores belong to the batch's examples in order, Rows[i]
// of them to example i, of which only the first Cols[i] columns are
// meaningful (the others hold kernels.Masked).
type Target struct {
	// Name is the task's, or the task's plus a part (a parser's
	// "TASK.arc" and "TASK.rel").
	Name    string
	Sigmoid bool
	Scores  mat.Tensor
	Rows    []int
	Cols    []int
}

// GraphInput is what the exporter gives a head to build on: the graph and
// the states the task reads, pooled as the head asks.
type GraphInput interface {
	Graph() *graph.Graph
	// Name prefixes the names of the head's values.
	Name() string
	// Words returns the task's words in word slots [examples, W, hidden]
	// (see Batch.WordSlots), pooled by p.
	Words(p *heads.WordPooler) (string, error)
	// Sentences returns one vector per encoder row [batch, hidden], its
	// [CLS] state or with mean the mean of its tokens.
	Sentences(mean bool) (string, error)
	// Hidden is the width of the states.
	Hidden() int
	// PairLogits returns a parser's scores of the pair states between its
	// word slots [examples, W, W] (as Input.PairLogits), or "" when the
	// model's parsers read no pair states.
	PairLogits() (string, error)
}

// Task is a configured task: its configuration, the layer or mix of layers
// it reads, its labels and its type's head.
type Task struct {
	Config Config
	Data   Data
	// Layer is the hidden state read (0..L), unless Mixer mixes several.
	Layer  int
	Mixer  *adapters.Mixer
	Labels []string
	Head   Head
}

// New makes a task for its dataset in an encoder of layers layers.
func New(cfg Config, d Data, layers int) (*Task, error) {
	h, err := head(&cfg, d)
	if err != nil {
		return nil, err
	}
	abs := cfg.Layer
	if abs < 0 {
		abs = layers + 1 + cfg.Layer
	}
	if abs < 0 || abs > layers {
		return nil, fmt.Errorf("task %s: layer %d does not exist in a %d-layer encoder (0..%d, or -1..-%d)", cfg.Name, cfg.Layer, layers, layers, layers+1)
	}
	return &Task{Config: cfg, Data: d, Layer: abs, Head: h}, nil
}

// Check checks a task's configuration against its dataset, as New does
// once the encoder is known.
func Check(cfg Config, d Data) error {
	_, err := head(&cfg, d)
	return err
}

// head checks a task's configuration and makes its type's head.
func head(cfg *Config, d Data) (Head, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	typ, ok := types[cfg.Type]
	if !ok {
		return nil, fmt.Errorf("task %s: unknown type %q (registered: %v)", cfg.Name, cfg.Type, TypeNames())
	}
	if cfg.Options == nil {
		cfg.Options = typ.Options()
	}
	h, err := typ.New(cfg, d)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", cfg.Name, err)
	}
	return h, nil
}

// Build makes the task's mixer and head for its labels.
func (t *Task) Build(labels []string, hidden, layers int, train []*Example, rng *rand.Rand) error {
	if len(labels) == 0 {
		return fmt.Errorf("task %s: no labels in the training data", t.Config.Name)
	}
	t.Labels = labels
	if t.Config.Mix.Mode != "" {
		var err error
		if t.Mixer, err = adapters.NewMixer(t.Config.Mix, layers, hidden, rng); err != nil {
			return fmt.Errorf("task %s: %w", t.Config.Name, err)
		}
	}
	if err := t.Head.Build(labels, hidden, train, rng); err != nil {
		return fmt.Errorf("task %s: %w", t.Config.Name, err)
	}
	return nil
}

// Params returns the parameters of the task's mixer and head, named
// "TASK.…".
func (t *Task) Params() []encoder.NamedParam {
	var ps []encoder.NamedParam
	if t.Mixer != nil {
		ps = append(ps, t.Mixer.NamedParams()...)
	}
	ps = append(ps, t.Head.Params()...)
	for i := range ps {
		ps[i].Name = t.Config.Name + "." + ps[i].Name
	}
	return ps
}

// Deepest returns the deepest hidden state the task reads.
func (t *Task) Deepest() int {
	if t.Mixer != nil {
		return t.Mixer.Deepest()
	}
	return t.Layer
}

// Input returns what the task's head reads from the hidden states of a
// forward pass over b: its layer or its mix of layers, over words when the
// encoder pooled them below the states read.
func (t *Task) Input(hidden []mat.Tensor, b *Batch, graph bool) *Input {
	states := hidden[t.Layer]
	if t.Mixer != nil {
		states, _ = t.Mixer.Forward(hidden)
	}
	in := &Input{States: states, Batch: b, Units: t.Data.WordLevel && b.UnitsAt(t.Deepest()), Graph: graph}
	if st := b.Pairs; st != nil && st.Parser() {
		layer := t.Deepest()
		in.PairLogits = func(rows []int, n, cols int) mat.Tensor { return st.Logits(layer, rows, n, cols) }
	}
	return in
}

// labelIndex maps each label to its index.
func labelIndex(labels []string) map[string]int {
	m := make(map[string]int, len(labels))
	for i, l := range labels {
		m[l] = i
	}
	return m
}

// indices returns the index of each label, -100 (no loss) for a label
// unseen in training.
func indices(index map[string]int, labels []string) []int {
	out := make([]int, len(labels))
	for i, l := range labels {
		out[i] = -100
		if k, ok := index[l]; ok {
			out[i] = k
		}
	}
	return out
}

// names returns the labels of indices.
func names(labels []string, idx []int) []string {
	out := make([]string, len(idx))
	for i, k := range idx {
		out[i] = labels[k]
	}
	return out
}

// vocabulary returns the sorted distinct non-empty labels of the examples,
// each value of labels(ex) split by split (nil: whole).
func vocabulary(exs []*Example, labels func(*Example) []string, split func(string) []string) []string {
	set := map[string]bool{}
	for _, ex := range exs {
		for _, v := range labels(ex) {
			parts := []string{v}
			if split != nil {
				parts = split(v)
			}
			for _, p := range parts {
				if p != "" {
					set[p] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for l := range set {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}
