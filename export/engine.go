package export

import (
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/tasks"
	"github.com/hiertune/hiertune/tensor"
)

// Runner computes named outputs of an exported graph for named inputs: an
// ONNX Runtime session (ort.Session), say.
type Runner interface {
	Run(inputs map[string]*tensor.Tensor, outputs []string) (map[string]*tensor.Tensor, error)
}

// Engine computes a model's scores by running its exported graph (a
// model.Engine): hiertune feeds the graph and decodes its outputs.
type Engine struct {
	m *model.Model
	r Runner
}

// NewEngine returns an engine that runs m's exported graph on r.
func NewEngine(m *model.Model, r Runner) *Engine { return &Engine{m: m, r: r} }

// Scores runs the graph on a batch of dataset d and returns the scores of
// the tasks ts, their shapes checked against the batch.
func (e *Engine) Scores(d *datasets.Dataset, b *tasks.Batch, ts []*tasks.Task) (map[*tasks.Task]tasks.Scores, error) {
	feeds, err := Feeds(e.m, d, b)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range ts {
		names = append(names, t.Head.Outputs()...)
	}
	got, err := e.r.Run(feeds, names)
	if err != nil {
		return nil, err
	}
	out := map[*tasks.Task]tasks.Scores{}
	for _, t := range ts {
		if out[t], err = t.Head.FromGraph(got, b); err != nil {
			return nil, fmt.Errorf("task %s: %w", t.Config.Name, err)
		}
	}
	return out, nil
}

// GoOutputs computes the graph outputs of a batch of dataset d with
// hiertune's encoder and heads, laid out as the graph lays them out: the
// scores of d's tasks and the named hidden states.
func GoOutputs(m *model.Model, d *datasets.Dataset, b *tasks.Batch, names []string) (map[string]*tensor.Tensor, error) {
	ts := m.TasksOf(d)
	deepest := model.Depth(ts)
	for _, name := range names {
		if n, ok := hiddenIndex(name); ok {
			deepest = max(deepest, n)
		}
	}
	opt := encoder.Options{Depth: max(deepest, 1), Words: b.Words}
	if err := m.SetPairs(&opt, b); err != nil {
		return nil, err
	}
	res, err := m.Encoder.Forward(b.Enc, opt)
	if err != nil {
		return nil, err
	}
	out := map[string]*tensor.Tensor{}
	for n, h := range res.HiddenStates {
		if !slices.Contains(names, HiddenOutput(n)) {
			continue
		}
		rows, seq := b.Enc.Size, b.Enc.Seq
		if b.UnitsAt(n) {
			rows, seq = b.Words.Size, b.Words.Seq
		}
		out[HiddenOutput(n)] = tensor.FromFloat32([]int{rows, seq, m.Encoder.Config.HiddenSize}, kernels.Values(h))
	}
	for _, t := range ts {
		s, err := t.Head.Scores(t.Input(res.HiddenStates, b, true), heads.NoDropout)
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", t.Config.Name, err)
		}
		outs, err := t.Head.GraphOutputs(s)
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", t.Config.Name, err)
		}
		for k, v := range outs {
			out[k] = v
		}
	}
	return out, nil
}

// sample reads and encodes the named dataset's file at path (or, with path
// empty, its dev file) for a check.
func sample(m *model.Model, dataset, path string, log io.Writer) (*datasets.Dataset, []*tasks.Example, error) {
	d, err := m.Dataset(dataset)
	if err != nil {
		return nil, nil, err
	}
	if path == "" {
		if path = d.Config.Dev; path == "" {
			return nil, nil, fmt.Errorf("dataset %s has no dev file: give one", d.Name)
		}
	}
	exs, err := m.ReadInput(d, path, false, log)
	return d, exs, err
}

// Compare runs the tasks of the named dataset (or the only one) on the
// file at path (empty: the dataset's dev file) with both hiertune's engine
// and r, in batches of size (0: the model's), and returns, for each of the
// given graph outputs that belongs to those tasks or is a hidden state,
// the largest absolute difference between the two.
func Compare(m *model.Model, r Runner, outputs []string, dataset, path string, size int, log io.Writer) (map[string]float64, error) {
	d, exs, err := sample(m, dataset, path, log)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, t := range m.TasksOf(d) {
		for _, name := range t.Head.Outputs() {
			if slices.Contains(outputs, name) {
				names = append(names, name)
			}
		}
	}
	for _, name := range outputs {
		if _, ok := hiddenIndex(name); ok {
			names = append(names, name)
		}
	}
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	diff := map[string]float64{}
	for _, b := range m.Batches(d, exs, size) {
		want, err := GoOutputs(m, d, b, names)
		if err != nil {
			return nil, err
		}
		feeds, err := Feeds(m, d, b)
		if err != nil {
			return nil, err
		}
		got, err := r.Run(feeds, names)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			dd, err := maxAbsDiff(want[name], got[name])
			if err != nil {
				return nil, fmt.Errorf("output %q: %w", name, err)
			}
			diff[name] = max(diff[name], dd)
		}
		arena.Reset()
	}
	return diff, nil
}

// maxAbsDiff returns the largest absolute difference between two F32
// tensors of one shape.
func maxAbsDiff(a, b *tensor.Tensor) (float64, error) {
	if a == nil || b == nil {
		return 0, fmt.Errorf("missing")
	}
	if !slices.Equal(a.Shape, b.Shape) {
		return 0, fmt.Errorf("shape %v, want %v", b.Shape, a.Shape)
	}
	av, err := a.Float32()
	if err != nil {
		return 0, err
	}
	bv, err := b.Float32()
	if err != nil {
		return 0, err
	}
	var d float64
	for i := range av {
		x := math.Abs(float64(av[i]) - float64(bv[i]))
		if math.IsNaN(x) {
			return math.Inf(1), nil
		}
		d = max(d, x)
	}
	return d, nil
}

// Speed measures inference on the named dataset's file at path (empty: its
// dev file) in batches of size (0: the model's): the tokens per second
// (real pieces) of hiertune's encoder and heads and of r, each computing
// the scores of the dataset's tasks (no decoding) over the whole file, best
// of rounds.
func Speed(m *model.Model, r Runner, dataset, path string, size, rounds int) (goTokens, runnerTokens float64, err error) {
	d, exs, err := sample(m, dataset, path, io.Discard)
	if err != nil {
		return 0, 0, err
	}
	var names []string
	for _, t := range m.TasksOf(d) {
		names = append(names, t.Head.Outputs()...)
	}
	var batches []*tasks.Batch
	tokens := 0
	for _, b := range m.Batches(d, exs, size) {
		batches = append(batches, b)
		tokens += b.Tokens
	}
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	pass := func(run func(*tasks.Batch) error) (time.Duration, error) {
		start := time.Now()
		for _, b := range batches {
			if err := run(b); err != nil {
				return 0, err
			}
			arena.Reset()
		}
		return time.Since(start), nil
	}
	goPass := func(b *tasks.Batch) error { _, err := GoOutputs(m, d, b, names); return err }
	runnerPass := func(b *tasks.Batch) error {
		feeds, err := Feeds(m, d, b)
		if err == nil {
			_, err = r.Run(feeds, names)
		}
		return err
	}
	// The engines take turns, each keeping its fastest pass, so that a
	// machine whose load drifts slows both alike.
	var goBest, runnerBest time.Duration
	for i := 0; i < max(rounds, 1); i++ {
		g, err := pass(goPass)
		if err != nil {
			return 0, 0, err
		}
		o, err := pass(runnerPass)
		if err != nil {
			return 0, 0, err
		}
		if i == 0 || g < goBest {
			goBest = g
		}
		if i == 0 || o < runnerBest {
			runnerBest = o
		}
	}
	goTokens, runnerTokens = float64(tokens)/goBest.Seconds(), float64(tokens)/runnerBest.Seconds()
	return goTokens, runnerTokens, err
}

// SampleIO returns the graph inputs of the first batch of the named
// dataset's file at path (empty: its dev file) and hiertune's values of
// the named graph outputs for it: a reference for checking the graph with
// other tools.
func SampleIO(m *model.Model, dataset, path string, size int, outputs []string) (map[string]*tensor.Tensor, error) {
	d, exs, err := sample(m, dataset, path, io.Discard)
	if err != nil {
		return nil, err
	}
	if size <= 0 {
		size = m.BatchSize
	}
	b := m.Batch(d, exs[:min(size, len(exs))])
	ts, err := Feeds(m, d, b)
	if err != nil {
		return nil, err
	}
	arena := kernels.NewArena()
	kernels.UseArena(arena)
	defer kernels.UseArena(nil)
	outs, err := GoOutputs(m, d, b, outputs)
	if err != nil {
		return nil, err
	}
	for k, v := range outs {
		ts[k] = v
	}
	return ts, nil
}
