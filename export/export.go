// Package export writes a fine-tuned hiertune model as one ONNX graph: the
// encoder (truncated at the deepest layer a task reads), the adapters in
// use — depth mixing, word pooling inside the encoder, layer mixes — and
// every task head up to its scores.
//
// The graph takes the inputs finetune.Model.GraphInputs names
// (input_ids, attention_mask and token_type_ids [batch, seq]; word_start
// and word_end [examples, words] when a task reads words; unit_start,
// unit_end, unit_type [batch, units] and word_units [examples, words] with
// word pooling in the encoder), all INT64 with dynamic axes. Its outputs are
// the heads' scores (finetune.LogitsOutput, ArcOutput, LabelOutput) and
// any hidden states asked for. Decoding — argmax, the CRF's Viterbi path,
// the parser's tree and labels — is not in the graph: hiertune does it in
// Go on the scores (finetune.Model.SetEngine), as ONNX has no tree
// decoder.
package export

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hiertune/hiertune/export/ort"
	"github.com/hiertune/hiertune/finetune"
	"github.com/hiertune/hiertune/onnx"
)

// DefaultOpset is the ONNX operator set graphs use unless told otherwise:
// the newest that onnx 1.12's checker knows, and the first with
// LayerNormalization.
const DefaultOpset = 17

// Options configure an export.
type Options struct {
	// Opset is the default-domain operator set, 17 to 21 (0: DefaultOpset).
	Opset int
	// HiddenStates lists hidden states (0 the embedding output, i layer
	// i's output) to add as outputs hidden_states.N; the encoder runs as
	// deep as the deepest one needs.
	HiddenStates []int
}

// Model returns the ONNX model of a fine-tuned model.
func Model(m *finetune.Model, opt Options) (*onnx.Model, error) {
	opset := opt.Opset
	if opset == 0 {
		opset = DefaultOpset
	}
	if opset < 17 || opset > 21 {
		return nil, fmt.Errorf("export: opset %d is not supported (17 to 21)", opset)
	}
	layers := m.Encoder.Config.NumHiddenLayers
	depth := m.Depth()
	for _, n := range opt.HiddenStates {
		if n < 0 || n > layers {
			return nil, fmt.Errorf("export: hidden state %d does not exist in a %d-layer encoder (0..%d)", n, layers, layers)
		}
		depth = max(depth, n)
	}
	x := &exporter{g: newGraph(int64(opset)), m: m, inputs: m.GraphInputs()}
	if err := x.encoder(depth); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var outputs []*onnx.ValueInfo
	labels := map[string][]string{}
	for _, t := range m.ExportTasks() {
		outs, err := x.task(t)
		if err != nil {
			return nil, fmt.Errorf("export: task %s: %w", t.Name, err)
		}
		outputs = append(outputs, outs...)
		labels[t.Name] = taskLabels(t)
	}
	hs := slices.Clone(opt.HiddenStates)
	slices.Sort(hs)
	for _, n := range slices.Compact(hs) {
		name := finetune.HiddenOutput(n)
		x.g.rename(x.hidden[n], name)
		seq := "seq"
		if x.units[n] {
			seq = "units"
		}
		outputs = append(outputs, floatInfo(name, dims("batch", seq, m.Encoder.Config.HiddenSize)))
	}
	var inputs []*onnx.ValueInfo
	for _, name := range x.inputs {
		inputs = append(inputs, &onnx.ValueInfo{Name: name, Type: &onnx.Type{Tensor: &onnx.TensorType{ElemType: onnx.Int64, Shape: inputShape(name)}}})
	}
	meta, err := json.Marshal(labels)
	if err != nil {
		return nil, err
	}
	return &onnx.Model{
		IRVersion:    8,
		OpsetImport:  []onnx.OperatorSetID{{Version: int64(opset)}},
		ProducerName: "hiertune",
		Graph: &onnx.Graph{
			Name: "hiertune", Node: x.g.nodes, Initializer: x.g.inits,
			Input: inputs, Output: outputs,
		},
		MetadataProps: []onnx.StringStringEntry{{Key: "hiertune.labels", Value: string(meta)}},
	}, nil
}

// taskLabels returns the label names of a task's scores, in order.
func taskLabels(t finetune.ExportTask) []string {
	switch {
	case t.Tagger != nil:
		return t.Tagger.Labels
	case t.Feats != nil:
		return t.Feats.Pairs
	case t.Parser != nil:
		return t.Parser.Labels
	}
	return t.Classifier.Labels
}

// inputShape is the declared shape of a graph input.
func inputShape(name string) *onnx.Shape {
	switch name {
	case finetune.WordStart, finetune.WordEnd, finetune.WordUnits:
		return dims("examples", "words")
	case finetune.UnitStart, finetune.UnitEnd, finetune.UnitType:
		return dims("batch", "units")
	}
	return dims("batch", "seq")
}

// dims makes a shape of named (string) and fixed (int) dimensions.
func dims(ds ...any) *onnx.Shape {
	s := &onnx.Shape{}
	for _, d := range ds {
		switch d := d.(type) {
		case string:
			s.Dim = append(s.Dim, onnx.Dimension{Param: d})
		case int:
			s.Dim = append(s.Dim, onnx.Dimension{Value: int64(d), HasValue: true})
		}
	}
	return s
}

func floatInfo(name string, shape *onnx.Shape) *onnx.ValueInfo {
	return &onnx.ValueInfo{Name: name, Type: &onnx.Type{Tensor: &onnx.TensorType{ElemType: onnx.Float, Shape: shape}}}
}

// exporter holds the state of one export: the graph so far and the
// values of the encoder's hidden states.
type exporter struct {
	g      *graph
	m      *finetune.Model
	inputs []string
	// hidden[n] is hidden state n [batch, seq or units, hidden]; units[n]
	// says it is over the sequence pooled in the encoder.
	hidden []string
	units  []bool
}

// has reports whether the graph takes the named input.
func (x *exporter) has(input string) bool { return slices.Contains(x.inputs, input) }

// CheckGraph reports the first way a graph's declared inputs and outputs
// do not fit model m: an input m does not feed or one it feeds that is
// missing, an input that is not INT64, or a task output that is missing
// or not FLOAT. It lets a wrong model file fail before any data is read.
func CheckGraph(m *finetune.Model, inputs, outputs []ort.Value) error {
	feeds := m.GraphInputs()
	for _, in := range inputs {
		if !slices.Contains(feeds, in.Name) {
			return fmt.Errorf("the graph takes input %s, which this run does not provide (it provides %v)", in, feeds)
		}
		if in.Type != onnx.Int64 {
			return fmt.Errorf("the graph takes input %s; hiertune feeds INT64", in)
		}
		if in.Dims != nil && len(in.Dims) != 2 {
			return fmt.Errorf("the graph takes input %s; hiertune feeds rank 2", in)
		}
	}
	for _, name := range feeds {
		if !slices.ContainsFunc(inputs, func(v ort.Value) bool { return v.Name == name }) {
			return fmt.Errorf("the graph has no input %q, which this run needs (was it exported from another run?)", name)
		}
	}
	for _, name := range m.GraphOutputs() {
		i := slices.IndexFunc(outputs, func(v ort.Value) bool { return v.Name == name })
		if i < 0 {
			return fmt.Errorf("the graph has no output %q (was it exported from another run?)", name)
		}
		if outputs[i].Type != onnx.Float {
			return fmt.Errorf("the graph's output %s is not FLOAT", outputs[i])
		}
	}
	return nil
}
