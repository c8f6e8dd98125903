// Package export writes a fine-tuned hiertune model as one ONNX graph: the
// encoder (truncated at the deepest layer a task reads), the adapters in
// use — depth mixing, word pooling inside the encoder, layer mixes — and
// every task head up to its scores.
//
// The graph takes the inputs Inputs names (input_ids, attention_mask and
// token_type_ids [batch, seq]; word_start and word_end [examples, words]
// when a task reads words; unit_start, unit_end, unit_type [batch, units]
// and word_units [examples, words] with word pooling in the encoder), all
// INT64 with dynamic axes, which Feeds makes for a batch. Its outputs are
// the heads' scores (each task type names its own, tasks.Head.Outputs) and
// any hidden states asked for. Decoding — argmax, the CRF's Viterbi path,
// the parser's tree and labels — is not in the graph: hiertune does it in
// Go on the scores (Engine, model.Model.SetEngine), as ONNX has no tree
// decoder. Compare and Speed check a graph against hiertune's own engine.
package export

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/onnx/graph"
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
func Model(m *model.Model, opt Options) (*onnx.Model, error) {
	opset := opt.Opset
	if opset == 0 {
		opset = DefaultOpset
	}
	if opset < 17 || opset > 21 {
		return nil, fmt.Errorf("export: opset %d is not supported (17 to 21)", opset)
	}
	layers := m.Encoder.Config.NumHiddenLayers
	depth := model.Depth(m.Tasks)
	for _, n := range opt.HiddenStates {
		if n < 0 || n > layers {
			return nil, fmt.Errorf("export: hidden state %d does not exist in a %d-layer encoder (0..%d)", n, layers, layers)
		}
		depth = max(depth, n)
	}
	x := &exporter{g: graph.New(int64(opset)), m: m, inputs: Inputs(m)}
	if err := x.encoder(depth); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	var outputs []*onnx.ValueInfo
	labels := map[string][]string{}
	for _, t := range m.Tasks {
		outs, err := x.task(t)
		if err != nil {
			return nil, fmt.Errorf("export: task %s: %w", t.Config.Name, err)
		}
		outputs = append(outputs, outs...)
		labels[t.Config.Name] = t.Labels
	}
	hs := slices.Clone(opt.HiddenStates)
	slices.Sort(hs)
	for _, n := range slices.Compact(hs) {
		name := HiddenOutput(n)
		x.g.Rename(x.hidden[n], name)
		seq := "seq"
		if x.units[n] {
			seq = "units"
		}
		outputs = append(outputs, graph.FloatInfo(name, graph.Dims("batch", seq, m.Encoder.Config.HiddenSize)))
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
			Name: "hiertune", Node: x.g.Nodes(), Initializer: x.g.Initializers(),
			Input: inputs, Output: outputs,
		},
		MetadataProps: []onnx.StringStringEntry{{Key: "hiertune.labels", Value: string(meta)}},
	}, nil
}

// inputShape is the declared shape of a graph input.
func inputShape(name string) *onnx.Shape {
	switch name {
	case WordStart, WordEnd, WordUnits:
		return graph.Dims("examples", "words")
	case UnitStart, UnitEnd, UnitType:
		return graph.Dims("batch", "units")
	case PairRelations:
		return graph.Dims("batch", "seq_pairs")
	case PairRows:
		return graph.Dims("examples", "word_pairs")
	}
	return graph.Dims("batch", "seq")
}

// exporter holds the state of one export: the graph so far and the
// values of the encoder's hidden states.
type exporter struct {
	g      *graph.Graph
	m      *model.Model
	inputs []string
	// hidden[n] is hidden state n [batch, seq or units, hidden]; units[n]
	// says it is over the sequence pooled in the encoder.
	hidden []string
	units  []bool
	// pairs[l] is the pair states after layer l [batch, seq, seq, dim]
	// (0: the relations), with pair states.
	pairs []string
}

// has reports whether the graph takes the named input.
func (x *exporter) has(input string) bool { return slices.Contains(x.inputs, input) }
