package export

import (
	"fmt"

	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/onnx/graph"
	"github.com/hiertune/hiertune/tasks"
)

// task adds a task's head on the states it reads (its layer, or its mix
// of layers) and returns the graph outputs it declares.
func (x *exporter) task(t *tasks.Task) ([]*onnx.ValueInfo, error) {
	name := t.Config.Name
	var states string
	if t.Mixer != nil {
		var err error
		if states, err = x.mix(name+".mix", t.Mixer); err != nil {
			return nil, err
		}
	} else {
		if t.Layer >= len(x.hidden) {
			return nil, fmt.Errorf("reads hidden state %d of %d", t.Layer, len(x.hidden))
		}
		states = x.hidden[t.Layer]
	}
	return t.Head.Export(&taskInput{x: x, t: t, states: states})
}

// taskInput is what a head builds on in the graph (tasks.GraphInput).
type taskInput struct {
	x      *exporter
	t      *tasks.Task
	states string
}

func (in *taskInput) Graph() *graph.Graph { return in.x.g }
func (in *taskInput) Name() string        { return in.t.Config.Name }
func (in *taskInput) Hidden() int         { return in.x.m.Encoder.Config.HiddenSize }

// Words returns the task's word vectors [examples, words, hidden]: one
// per word slot, pooled from the pieces by the task's pooler, or the word's
// position in the sequence pooled in the encoder.
func (in *taskInput) Words(p *heads.WordPooler) (string, error) {
	g, x, name := in.x.g, in.x, in.Name()
	flat := g.Reshape(name, in.states, -1, int64(in.Hidden()))
	if readsUnits(x.m, in.t) {
		if !x.has(WordUnits) {
			return "", fmt.Errorf("reads pooled words without the %s input", WordUnits)
		}
		// A one-unit segment pools to itself in every mode.
		return g.Op(name, "Gather", []string{flat, WordUnits}, graph.AttrInt("axis", 0)), nil
	}
	if !x.has(WordStart) {
		return "", fmt.Errorf("reads words without the %s input", WordStart)
	}
	var scores string
	if p.Mode == "attention" {
		s, err := g.Linear(name+".pool.score", flat, p.Score)
		if err != nil {
			return "", err
		}
		scores = g.Reshape(name, s, -1)
	}
	return g.SegmentPool(name+".pool", flat, WordStart, WordEnd, p.Mode, scores)
}

// Sentences returns one vector per row [batch, hidden]: the [CLS] state,
// or with mean the mean over the row's tokens.
func (in *taskInput) Sentences(mean bool) (string, error) {
	g, name := in.x.g, in.Name()
	if in.x.m.EncoderWordPooling() != nil {
		return "", fmt.Errorf("cannot export a sentence-level task with word pooling in the encoder: hiertune does not pool sentence-level data, so the two need different graphs")
	}
	if !mean {
		return g.Op(name, "Gather", []string{in.states, g.ScalarInt(0)}, graph.AttrInt("axis", 1)), nil
	}
	m := g.Cast(name, AttentionMask, onnx.Float)
	w := g.Op(name, "Div", []string{m, g.Reduce(name, "ReduceSum", m, true, 1)})
	return g.Reduce(name, "ReduceSum", g.Op(name, "Mul", []string{in.states, g.Unsqueeze(name, w, -1)}), false, 1), nil
}
