package export

import (
	"fmt"

	"github.com/nlpodyssey/spago/nn"

	"github.com/hiertune/hiertune/encoder"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/heads"
	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/onnx"
)

// task adds a task's head on the states it reads and returns the graph
// outputs it declares.
func (x *exporter) task(t finetune.ExportTask) ([]*onnx.ValueInfo, error) {
	g := x.g
	name := t.Name
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
	if t.Type == "classify" {
		if x.m.EncoderWordPooling() != nil {
			return nil, fmt.Errorf("cannot export a classification task with word pooling in the encoder: hiertune does not pool classification data, so the two need different graphs")
		}
		sentences := x.sentences(name, states, t.Pooling)
		logits, err := g.linear(name+".out", sentences, t.Classifier.Out)
		if err != nil {
			return nil, err
		}
		out := finetune.LogitsOutput(name)
		g.rename(logits, out)
		return []*onnx.ValueInfo{floatInfo(out, dims("batch", len(t.Classifier.Labels)))}, nil
	}
	words, err := x.words(t, states)
	if err != nil {
		return nil, err
	}
	switch t.Type {
	case "tag", "feats":
		var out *encoder.Linear
		var K int
		if t.Tagger != nil {
			out, K = t.Tagger.Out, len(t.Tagger.Labels)
		} else {
			out, K = t.Feats.Out, len(t.Feats.Pairs)
		}
		logits, err := g.linear(name+".out", words, out)
		if err != nil {
			return nil, err
		}
		g.rename(logits, finetune.LogitsOutput(name))
		return []*onnx.ValueInfo{floatInfo(finetune.LogitsOutput(name), dims("examples", "words", K))}, nil
	case "parse":
		return x.parser(name, words, t.Parser)
	}
	return nil, fmt.Errorf("unknown task type %q", t.Type)
}

// words returns the task's word vectors [examples, words, hidden]: one
// per word slot, pooled from the pieces by the task's pooler, or the word's
// position in the sequence pooled in the encoder.
func (x *exporter) words(t finetune.ExportTask, states string) (string, error) {
	g := x.g
	flat := g.reshape(t.Name, states, -1, int64(x.m.Encoder.Config.HiddenSize))
	if t.WordLevel {
		if !x.has(finetune.WordUnits) {
			return "", fmt.Errorf("reads pooled words without the %s input", finetune.WordUnits)
		}
		// A one-unit segment pools to itself in every mode.
		return g.op(t.Name, "Gather", []string{flat, finetune.WordUnits}, attrInt("axis", 0)), nil
	}
	if !x.has(finetune.WordStart) {
		return "", fmt.Errorf("reads words without the %s input", finetune.WordStart)
	}
	var scores string
	if t.Pooler.Mode == "attention" {
		s, err := g.linear(t.Name+".pool.score", flat, t.Pooler.Score)
		if err != nil {
			return "", err
		}
		scores = g.reshape(t.Name, s, -1)
	}
	return g.segmentPool(t.Name+".pool", flat, finetune.WordStart, finetune.WordEnd, t.Pooler.Mode, scores)
}

// sentences returns one vector per row [batch, hidden]: the [CLS] state,
// or with "mean" the mean over the row's tokens.
func (x *exporter) sentences(name, states, pooling string) string {
	g := x.g
	if pooling != "mean" {
		return g.op(name, "Gather", []string{states, g.scalarInt(0)}, attrInt("axis", 1))
	}
	m := g.cast(name, finetune.AttentionMask, onnx.Float)
	w := g.op(name, "Div", []string{m, g.reduce(name, "ReduceSum", m, true, 1)})
	return g.reduce(name, "ReduceSum", g.op(name, "Mul", []string{states, g.unsqueeze(name, w, -1)}), false, 1)
}

// parser adds the biaffine arc and label scorers (heads.Parser.Scores) on
// words [examples, W, hidden]: arc scores [examples, W, W] (dependent,
// head) with self-loops masked — hiertune masks heads beyond each
// sentence before decoding — and label scores [examples, W, W, labels].
func (x *exporter) parser(name string, words string, p *heads.Parser) ([]*onnx.ValueInfo, error) {
	g := x.g
	mlp := func(part string, l *encoder.Linear) (string, error) {
		y, err := g.linear(name+"."+part, words, l)
		if err != nil {
			return "", err
		}
		return g.activate(name+"."+part, y, kernels.LeakyReLU)
	}
	// Both scorers compute [dep; 1]ᵀ U [head; 1]: the dependent side's
	// ones column is U's last row, added as a bias.
	biaffine := func(part string, u *nn.Param, d, width int) (w, b string, err error) {
		v := kernels.Values(u)
		if len(v) != (d+1)*width {
			return "", "", fmt.Errorf("%s.%s has %d values, want %d×%d", name, part, len(v), d+1, width)
		}
		w = g.floats(name+"."+part+".weight", []int{d, width}, v[:d*width])
		b = g.floats(name+"."+part+".bias", []int{width}, v[d*width:])
		return w, b, nil
	}
	arcDep, err := mlp("arc_dep", p.ArcDep)
	if err != nil {
		return nil, err
	}
	arcHead, err := mlp("arc_head", p.ArcHead)
	if err != nil {
		return nil, err
	}
	a, _ := kernels.Dims(p.ArcDep.Weight)
	uw, ub, err := biaffine("arc_biaffine", p.ArcU, a, a)
	if err != nil {
		return nil, err
	}
	t := g.op(name, "Add", []string{g.op(name, "MatMul", []string{arcDep, uw}), ub})
	arc := g.op(name, "MatMul", []string{t, g.transpose(name, arcHead, 0, 2, 1)})
	// A word is never its own head: mask the diagonal as ArcScores does.
	// Heads beyond a sentence's end are masked in Go, which knows lengths.
	slots := g.op(name, "Range", []string{g.scalarInt(0), g.dim(name, arcHead, 1), g.scalarInt(1)})
	self := g.op(name, "Equal", []string{g.unsqueeze(name, slots, 1), g.unsqueeze(name, slots, 0)})
	arc = g.op(name, "Where", []string{self, g.scalar(kernels.Masked), arc})
	g.rename(arc, finetune.ArcOutput(name))

	relDep, err := mlp("rel_dep", p.RelDep)
	if err != nil {
		return nil, err
	}
	relHead, err := mlp("rel_head", p.RelHead)
	if err != nil {
		return nil, err
	}
	r, _ := kernels.Dims(p.RelDep.Weight)
	L := int64(len(p.Labels))
	e := int64(r + 1)
	rw, rb, err := biaffine("rel_biaffine", p.RelU, r, int(L*e))
	if err != nil {
		return nil, err
	}
	// T[b,i,l,:] = [dep_i; 1]ᵀ U_l; its first r columns meet head_j, the
	// last one meets the head side's ones column.
	t = g.reshape(name, g.op(name, "Add", []string{g.op(name, "MatMul", []string{relDep, rw}), rb}), 0, 0, L, e)
	tk := g.op(name, "Slice", []string{t, g.ints(0), g.ints(e - 1), g.ints(3)})
	tb := g.op(name, "Slice", []string{t, g.ints(e - 1), g.ints(e), g.ints(3)})
	s := g.op(name, "MatMul", []string{g.reshape(name, tk, 0, -1, e-1), g.transpose(name, relHead, 0, 2, 1)})
	s = g.op(name, "Add", []string{s, g.reshape(name, tb, 0, -1, 1)})
	// [examples, W·L, W] → [examples, W, L, W] → [examples, W, W, L].
	ew := g.op(name, "Slice", []string{g.op(name, "Shape", []string{relHead}), g.ints(0), g.ints(2), g.ints(0)})
	shape := g.op(name, "Concat", []string{ew, g.ints(L, -1)}, attrInt("axis", 0))
	label := g.transpose(name, g.op(name, "Reshape", []string{s, shape}), 0, 1, 3, 2)
	g.rename(label, finetune.LabelOutput(name))
	return []*onnx.ValueInfo{
		floatInfo(finetune.ArcOutput(name), dims("examples", "words", "words")),
		floatInfo(finetune.LabelOutput(name), dims("examples", "words", "words", int(L))),
	}, nil
}
