package model

import (
	"fmt"
	"io"
	"iter"
	"maps"
	"math"
	"slices"

	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/tasks"
)

// Engine computes the scores of a batch's tasks in place of hiertune's own
// encoder and heads (ONNX Runtime on an exported graph, say); batching,
// decoding and writing stay the model's.
type Engine interface {
	Scores(d *datasets.Dataset, b *tasks.Batch, ts []*tasks.Task) (map[*tasks.Task]tasks.Scores, error)
}

// SetEngine makes Predict, Evaluate and PredictFile take the heads' scores
// from e; nil restores the Go encoder and heads.
func (m *Model) SetEngine(e Engine) { m.engine = e }

// WordPooling returns the word pooling inside the encoder for the batches
// of dataset d: the model's, except for sentence-level datasets, which
// have no words; nil when there is none.
func (m *Model) WordPooling(d *datasets.Dataset) *WordPoolingConfig {
	if !d.Data.WordLevel {
		return nil
	}
	return m.Config.WordPooling
}

// Batch encodes examples of dataset d into a batch, laid out for word
// pooling in the encoder when the model pools words.
func (m *Model) Batch(d *datasets.Dataset, exs []*tasks.Example) *tasks.Batch {
	b := tasks.NewBatch(exs, max(m.Tok.Specials().PAD, 0))
	if p := m.WordPooling(d); p != nil {
		b.PoolWords(p.After, kernels.PoolMode(p.Mode))
		b.Words.Score = m.wordScore
	}
	return b
}

// BatchLength returns the length the batches of dataset d are grouped by
// (see tasks.BatchLength).
func (m *Model) BatchLength(d *datasets.Dataset) func(*tasks.Example) int {
	if p := m.WordPooling(d); p != nil {
		return tasks.BatchLength(p.After)
	}
	return tasks.BatchLength(-1)
}

// Batches encodes the examples exs of dataset d in batches of size (0: the
// model's BatchSize), grouped by length (longest first) as training groups
// them, and yields each batch with the indices in exs of its examples.
// Memory stays bounded whatever the lengths: a batch holds at most
// 2·size·MaxLength padded pieces and, padded to its longest sentence, at
// most size·256² word pairs (what a parser scores), unless one example
// alone is more.
func (m *Model) Batches(d *datasets.Dataset, exs []*tasks.Example, size int) iter.Seq2[[]int, *tasks.Batch] {
	if size <= 0 {
		size = m.BatchSize
	}
	maxPieces, maxPairs := 2*size*m.MaxLength, size*256*256
	return func(yield func([]int, *tasks.Batch) bool) {
		idx := make([]int, len(exs))
		for i := range idx {
			idx[i] = i
		}
		for _, group := range tasks.GroupedBatches(idx, exs, size, m.BatchLength(d), nil) {
			for len(group) > 0 {
				n, rows, seq, words := 0, 0, 0, 0
				for _, e := range group {
					ex := exs[e]
					r, s, w := rows+ex.Windows(), max(seq, ex.Longest()), max(words, len(ex.Words)+1)
					if n > 0 && (r*s > maxPieces || (n+1)*w*w > maxPairs) {
						break
					}
					n, rows, seq, words = n+1, r, s, w
				}
				bexs := make([]*tasks.Example, n)
				for i, e := range group[:n] {
					bexs[i] = exs[e]
				}
				if !yield(group[:n], m.Batch(d, bexs)) {
					return
				}
				group = group[n:]
			}
		}
	}
}

// Scores computes the scores of the tasks ts of dataset d on a batch, for
// inference: with the engine set by SetEngine, or the Go encoder run as
// deep as the tasks read and their heads.
func (m *Model) Scores(d *datasets.Dataset, b *tasks.Batch, ts []*tasks.Task) (map[*tasks.Task]tasks.Scores, error) {
	if m.engine != nil {
		return m.engine.Scores(d, b, ts)
	}
	opt := encoder.Options{Depth: Depth(ts), Words: b.Words}
	merge, err := m.SetMerger(&opt)
	if err != nil {
		return nil, err
	}
	if err := m.SetPairs(&opt, b); err != nil {
		return nil, err
	}
	res, err := m.Encoder.Forward(b.Enc, opt)
	if err != nil {
		return nil, err
	}
	if merge != nil {
		p, u := merge.Counts()
		m.merged[0] += p
		m.merged[1] += u
	}
	out := map[*tasks.Task]tasks.Scores{}
	for _, t := range ts {
		if out[t], err = t.Head.Scores(t.Input(res.HiddenStates, b, false), heads.NoDropout); err != nil {
			return nil, fmt.Errorf("task %s: %w", t.Config.Name, err)
		}
	}
	return out, nil
}

// MergeCounts returns the positions (padding aside) that entered the first
// merge of inference and the units its last merge left, summed over the
// forward passes since the last call, and sets them to zero.
func (m *Model) MergeCounts() (positions, units int) {
	positions, units = m.merged[0], m.merged[1]
	m.merged = [2]int{}
	return positions, units
}

// Predict runs the tasks of dataset d on examples, in batches of size (0:
// BatchSize) ordered by length (the result does not depend on that order),
// and returns each task's predictions, in the order of exs. It resets the
// step arena in use, if any, after each batch.
func (m *Model) Predict(d *datasets.Dataset, exs []*tasks.Example, size int) (map[*tasks.Task][]tasks.Prediction, error) {
	preds, _, err := m.predict(d, exs, size, false)
	return preds, err
}

// Confidence is, for each score block of a task (its Target name: the
// task's, or a parser's "TASK.arc" and "TASK.rel"), one value per row of
// an example (a word, or the example for a sentence label): the softmax
// probability of the most likely class, or for independent binary labels
// (sigmoid) the least certain of the row's decisions, min over labels of
// max(p, 1−p).
type Confidence map[string][]float64

// PredictConfidence is Predict that also returns each task's confidences
// per example.
func (m *Model) PredictConfidence(d *datasets.Dataset, exs []*tasks.Example, size int) (map[*tasks.Task][]tasks.Prediction, map[*tasks.Task][]Confidence, error) {
	return m.predict(d, exs, size, true)
}

func (m *Model) predict(d *datasets.Dataset, exs []*tasks.Example, size int, confidence bool) (map[*tasks.Task][]tasks.Prediction, map[*tasks.Task][]Confidence, error) {
	ts := m.TasksOf(d)
	out := map[*tasks.Task][]tasks.Prediction{}
	var conf map[*tasks.Task][]Confidence
	if confidence {
		conf = map[*tasks.Task][]Confidence{}
	}
	for _, t := range ts {
		out[t] = make([]tasks.Prediction, len(exs))
		if confidence {
			conf[t] = make([]Confidence, len(exs))
		}
	}
	arena := kernels.CurrentArena()
	for group, b := range m.Batches(d, exs, size) {
		scores, err := m.Scores(d, b, ts)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range ts {
			ps, err := t.Head.Predict(scores[t], b)
			if err != nil {
				return nil, nil, fmt.Errorf("task %s: %w", t.Config.Name, err)
			}
			for i, e := range group {
				out[t][e] = ps[i]
			}
			if !confidence {
				continue
			}
			targets, err := t.Head.Targets(scores[t], b)
			if err != nil {
				return nil, nil, fmt.Errorf("task %s: %w", t.Config.Name, err)
			}
			for _, e := range group {
				conf[t][e] = Confidence{}
			}
			for _, tg := range targets {
				v := kernels.Values(tg.Scores)
				_, cols := kernels.Dims(tg.Scores)
				row := 0
				for i, e := range group {
					var c []float64
					for range tg.Rows[i] {
						c = append(c, confidenceOf(v[row*cols:row*cols+tg.Cols[i]], tg.Sigmoid))
						row++
					}
					conf[t][e][tg.Name] = c
				}
			}
		}
		if arena != nil {
			arena.Reset()
		}
	}
	return out, conf, nil
}

// confidenceOf returns the confidence of one row of logits (see
// Confidence).
func confidenceOf(logits []float32, sigmoid bool) float64 {
	if sigmoid {
		least := 1.0
		for _, z := range logits {
			p := 1 / (1 + math.Exp(-float64(z)))
			least = min(least, max(p, 1-p))
		}
		return least
	}
	hi := math.Inf(-1)
	for _, z := range logits {
		hi = max(hi, float64(z))
	}
	var sum float64
	for _, z := range logits {
		sum += math.Exp(float64(z) - hi)
	}
	return 1 / sum
}

// Score returns the metrics of predictions on examples of dataset d, keyed
// "dataset.metric".
func (m *Model) Score(d *datasets.Dataset, exs []*tasks.Example, preds map[*tasks.Task][]tasks.Prediction) (map[string]float64, error) {
	return d.Score(exs, m.TasksOf(d), preds)
}

// MetricNames returns the keys of the metrics the dev set of dataset d
// gives ("dataset.metric"), found by scoring its first example's gold
// annotation as a prediction; none without a dev set.
func (m *Model) MetricNames(d *datasets.Dataset) ([]string, error) {
	ts := m.TasksOf(d)
	if len(d.Dev) == 0 || len(ts) == 0 {
		return nil, nil
	}
	ex := d.Dev[:1]
	preds := map[*tasks.Task][]tasks.Prediction{}
	for _, t := range ts {
		p := tasks.Prediction{}
		for _, col := range t.Head.Columns() {
			p[col] = ex[0].Gold.Column(col)
		}
		preds[t] = []tasks.Prediction{p}
	}
	scores, err := m.Score(d, ex, preds)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(scores)), nil
}

// inArena runs fn with a step arena of its own, as training evaluates, so
// that the scores are those the run logged.
func inArena[T any](fn func() (T, error)) (T, error) {
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	return fn()
}

// Evaluate scores the model on path, a file in the format of the named
// dataset (or the only one), with the metrics training logs for its dev
// set, keyed "dataset.metric"; size is the batch size (0: BatchSize).
func (m *Model) Evaluate(dataset, path string, size int, log io.Writer) (map[string]float64, error) {
	d, err := m.Dataset(dataset)
	if err != nil {
		return nil, err
	}
	exs, err := m.ReadInput(d, path, true, log)
	if err != nil {
		return nil, err
	}
	preds, err := inArena(func() (map[*tasks.Task][]tasks.Prediction, error) { return m.Predict(d, exs, size) })
	if err != nil {
		return nil, err
	}
	return m.Score(d, exs, preds)
}

// PredictFile annotates the file in, in the format of the named dataset (or
// the only one), and writes the result to out in the same format: CoNLL-U
// with the predicted columns replaced and everything else kept byte for
// byte, CoNLL with the predicted tags, or TSV with a column per task.
func (m *Model) PredictFile(dataset, in string, out io.Writer, size int, log io.Writer) error {
	d, err := m.Dataset(dataset)
	if err != nil {
		return err
	}
	exs, err := m.ReadInput(d, in, false, log)
	if err != nil {
		return err
	}
	preds, err := inArena(func() (map[*tasks.Task][]tasks.Prediction, error) { return m.Predict(d, exs, size) })
	if err != nil {
		return err
	}
	return d.Write(out, exs, m.TasksOf(d), preds) // each format buffers its writes
}
