package finetune

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/nlpodyssey/spago/mat"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/kernels"
)

// This file lets another package (distill) add losses to the steps of a
// fine-tuning run and read a model's prediction-layer scores, so that a
// distilled student is trained, evaluated, checkpointed and resumed exactly
// as a fine-tuned model is.

// Hook adds losses to the steps of a fine-tuning run.
type Hook interface {
	// Labels returns the label vocabularies the tasks must use (a teacher's,
	// so that the student's classes are the teacher's), or nil to collect
	// them from the training data. A resumed run reads its checkpoint's.
	Labels() map[string][]string
	// Attach is called once the model's heads exist, before a resumed run
	// restores its checkpoint. The parameters it returns (names not
	// clashing with the tasks') are trained with the heads and saved in
	// heads.safetensors.
	Attach(m *Model) ([]encoder.NamedParam, error)
	// Plan gives the run's length in steps, and the steps of an epoch of
	// the first task's dataset, before the first step.
	Plan(steps, perEpoch int)
	// Options adjusts the model's forward pass of step on b.
	Options(step int, b *Batch, opt *encoder.Options)
	// Loss returns the extra losses of step on b from the forward pass res.
	Loss(step int, b *Batch, res *encoder.Result) (Losses, error)
}

// Losses are the extra loss terms of one batch, with the weight of the
// tasks' own (gold-label) losses.
type Losses struct {
	// Hard multiplies every task's own loss (0 skips them).
	Hard    float64
	Terms   []mat.Tensor
	Weights []float32
	// Names[i] names term i in the metrics (loss_NAME); terms may share a
	// name, whose weighted values then add up.
	Names []string
}

// Batch is a training batch of one dataset, as a Hook sees it.
type Batch struct {
	b    *batch
	d    *dataset
	keys []int
}

// Dataset returns the name of the batch's dataset.
func (b *Batch) Dataset() string { return b.d.name }

// Encoded returns the encoder's input.
func (b *Batch) Encoded() *encoder.Batch { return b.b.enc }

// Keys returns the index of each example of the batch in its dataset's
// training set: stable across steps and runs, for caching per example.
func (b *Batch) Keys() []int { return b.keys }

// Tasks returns the names of the tasks the batch trains.
func (b *Batch) Tasks() []string {
	var names []string
	for _, t := range b.d.tasks {
		names = append(names, t.cfg.Name)
	}
	return names
}

// RunWithHook is Run with hook's losses added to every step.
func RunWithHook(ctx context.Context, cfg *Config, raw []byte, resume bool, log io.Writer, hook Hook) error {
	return (&trainer{cfg: cfg, log: log, hook: hook}).start(ctx, raw, resume)
}

// hookBatch wraps a batch of d for the hook, with its examples' keys.
func (t *trainer) hookBatch(d *dataset, b *batch) *Batch {
	if t.keys == nil {
		t.keys = map[*example]int{}
	}
	if _, ok := t.keys[b.exs[0]]; !ok {
		for i, ex := range d.train {
			t.keys[ex] = i
		}
	}
	hb := &Batch{b: b, d: d}
	for _, ex := range b.exs {
		hb.keys = append(hb.keys, t.keys[ex])
	}
	return hb
}

// Config returns the configuration the model was made with.
func (m *Model) Config() *Config { return m.cfg }

// TokenizerDir returns the directory of the model's tokenizer files.
func (m *Model) TokenizerDir() string { return m.tokDir }

// RawConfig returns the fields of the encoder's config.json.
func (m *Model) RawConfig() map[string]json.RawMessage { return m.rawCfg }

// TaskLayer returns the hidden state a task reads (0..L), and whether the
// model has the task.
func (m *Model) TaskLayer(name string) (int, bool) {
	for _, t := range m.tasks {
		if t.cfg.Name == name {
			return t.layer, true
		}
	}
	return 0, false
}

// TaskLabels returns every task's label vocabulary.
func (m *Model) TaskLabels() map[string][]string {
	out := map[string][]string{}
	for _, t := range m.tasks {
		out[t.cfg.Name] = t.labels
	}
	return out
}

// Output is a task head's scores on a batch, before the softmax (or for
// morphological features the sigmoid): rows of Scores belong to the
// batch's examples in order, Rows[i] of them to example i, of which only
// the first Cols[i] columns are meaningful (the others hold kernels.Masked:
// arcs to heads beyond the sentence).
type Output struct {
	// Name is the task's, or for a parser "TASK.arc" (a distribution over
	// heads for every word) and "TASK.rel" (over labels, at the gold head).
	Name    string
	Sigmoid bool
	Scores  mat.Tensor
	Rows    []int
	Cols    []int
}

// Outputs returns the prediction-layer scores of the named task on b from
// the hidden states of a forward pass of this model over b (without the
// head's dropout). Student and teacher give rows for the same words when
// they read the same batch.
func (m *Model) Outputs(name string, b *Batch, hidden []mat.Tensor) ([]Output, error) {
	var t *task
	for _, c := range m.tasks {
		if c.cfg.Name == name {
			t = c
		}
	}
	if t == nil {
		return nil, fmt.Errorf("the model has no task %q", name)
	}
	if t.mixer != nil || b.b.words != nil {
		return nil, fmt.Errorf("task %s: distillation does not support layer mixes or word pooling", name)
	}
	if t.layer >= len(hidden) {
		return nil, fmt.Errorf("task %s: reads hidden state %d of %d computed", name, t.layer, len(hidden))
	}
	states := hidden[t.layer]
	bt := b.b
	same := func(n, k int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = k
		}
		return out
	}
	switch t.cfg.Type {
	case "tag", "feats":
		words, counts := t.words(bt, states)
		out := Output{Name: name, Sigmoid: t.feats != nil, Rows: counts, Cols: same(len(counts), len(t.labels))}
		if t.feats != nil {
			out.Scores = t.feats.Out.Forward(words)
		} else {
			out.Scores = t.tagger.Logits(words, kernels.Dropout{})
		}
		return []Output{out}, nil
	case "classify":
		n := len(bt.exs)
		return []Output{{Name: name, Scores: t.classifier.Out.Forward(t.sentences(bt, states)), Rows: same(n, 1), Cols: same(n, len(t.labels))}}, nil
	}
	// parse: word slots 1..n of each sentence over heads 0..n, and labels
	// at the gold heads.
	words, s := t.parseSlots(bt, states)
	p := t.parser
	mlp := func(l *encoder.Linear) mat.Tensor { return kernels.Activate(l.Forward(words), kernels.LeakyReLU) }
	arcs := kernels.ArcScores(mlp(p.ArcDep), mlp(p.ArcHead), p.ArcU, s.B, s.W, s.Lengths)
	var slots, deps, govs, relRows []int
	for i, ex := range bt.exs {
		n := 0
		for w, row := range ex.sent.Words() {
			slot := i*s.W + w + 1
			slots = append(slots, slot)
			if row.Head >= 0 && row.Head < s.Lengths[i] && t.indexOf(row.DepRel) >= 0 {
				deps, govs = append(deps, slot), append(govs, i*s.W+row.Head)
				n++
			}
		}
		relRows = append(relRows, n)
	}
	out := []Output{{Name: name + ".arc", Scores: kernels.GatherRows(arcs, slots), Rows: make([]int, len(bt.exs)), Cols: s.Lengths}}
	for i := range bt.exs {
		out[0].Rows[i] = s.Lengths[i] - 1
	}
	if len(deps) > 0 {
		rels := kernels.Bilinear(kernels.GatherRows(mlp(p.RelDep), deps), kernels.GatherRows(mlp(p.RelHead), govs), p.RelU, len(p.Labels))
		out = append(out, Output{Name: name + ".rel", Scores: rels, Rows: relRows, Cols: same(len(bt.exs), len(p.Labels))})
	}
	return out, nil
}
