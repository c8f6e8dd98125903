// Package onnxweights reads the encoder weights of a BERT-family model from
// an ONNX graph, as exported by torch.onnx.export or HF Optimum.
//
// Such exports keep the parameter names of embeddings, biases and LayerNorms
// (often behind a prefix such as "m.bert."), but store Linear weights as
// anonymous initializers ("onnx::MatMul_123") in [in, out] layout, and
// deduplicate equal tensors behind Identity nodes. Extract therefore uses
// two sources and requires them to agree: the names, where the graph has
// them, and the structure of the graph, which it walks from the input ids
// through every layer to the pooler. If the walk cannot get through the
// graph, names that cover every parameter suffice.
package onnxweights

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"

	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/tensor"
)

// Config is the model configuration that the graph shows, with HF
// config.json keys. The sizes come from the parameter shapes;
// NumAttentionHeads, LayerNormEps and HiddenAct come from the walk of the
// graph and are zero where it did not get that far (see Report.StructureErr).
type Config struct {
	NumHiddenLayers       int     `json:"num_hidden_layers"`
	HiddenSize            int     `json:"hidden_size"`
	NumAttentionHeads     int     `json:"num_attention_heads"`
	IntermediateSize      int     `json:"intermediate_size"`
	VocabSize             int     `json:"vocab_size"`
	MaxPositionEmbeddings int     `json:"max_position_embeddings"`
	TypeVocabSize         int     `json:"type_vocab_size"`
	LayerNormEps          float64 `json:"layer_norm_eps"`
	HiddenAct             string  `json:"hidden_act"`
	// Pooler reports whether the model has a pooler (not a config.json key).
	Pooler bool `json:"-"`
}

// Match says where Extract found one parameter.
type Match struct {
	Name        string // canonical parameter name
	Source      string // initializer (or Constant output) holding the data
	ByName      bool   // the graph names it
	ByStructure bool   // the walk of the graph found it
	Transposed  bool   // stored as [in, out] and transposed back
}

// Unused describes an initializer that holds no encoder parameter, such as
// a classification head.
type Unused struct {
	Name   string
	Dims   []int64
	UsedBy string // the first node that reads it, "" if none
}

// Report describes how Extract matched the graph.
type Report struct {
	Config Config
	Params []Match  // sorted by name
	Unused []Unused // in initializer order
	// StructureErr says why the walk of the graph stopped early, if it did
	// and the names alone were enough.
	StructureErr error
}

// Extract finds the encoder parameters of a BERT-family model in an ONNX
// graph and returns them under their canonical names (the HF BertModel
// state-dict keys without prefix), with Linear weights in PyTorch
// [out, in] orientation. The tensors own their data. It is an error if a
// parameter is missing, if the names contradict the structure, or if a
// shape does not fit the configuration.
func Extract(m *onnx.Model) (map[string]*tensor.Tensor, Report, error) {
	out, rep, err := extract(m)
	if err != nil {
		return nil, Report{}, fmt.Errorf("onnxweights: %w", err)
	}
	return out, rep, nil
}

func extract(m *onnx.Model) (map[string]*tensor.Tensor, Report, error) {
	var rep Report
	if m == nil || m.Graph == nil {
		return nil, rep, fmt.Errorf("model has no graph")
	}
	g, err := newGraph(m.Graph)
	if err != nil {
		return nil, rep, err
	}
	named, err := byName(g, m.Graph.Node)
	if err != nil {
		return nil, rep, err
	}
	w := &walker{g: g, params: map[string]param{}}
	walkErr := w.walk()

	params := map[string]param{}
	for name, p := range named {
		params[name] = p
	}
	for _, name := range slices.Sorted(maps.Keys(w.params)) {
		p := w.params[name]
		q, ok := named[name]
		if !ok {
			params[name] = p
			continue
		}
		same, err := g.sameTensor(p, q)
		if err != nil {
			return nil, rep, err
		}
		if !same {
			return nil, rep, fmt.Errorf("%s: the graph names %q, but %s uses %q in its place", name, q.value, nodeName(p.node), p.value)
		}
	}

	// With a complete walk, the graph's structure says how many layers there
	// are; otherwise the names must, and they must then cover everything.
	layers, pooler, have := w.layers, w.pooler, params
	if walkErr != nil {
		layers, pooler, have = 0, false, named
	}
	for _, name := range slices.Sorted(maps.Keys(named)) {
		p := named[name]
		if i, ok := layerIndex(name); ok && i >= layers {
			if walkErr == nil {
				return nil, rep, fmt.Errorf("the graph has %d layers, but %q is named like layer %d", w.layers, p.value, i)
			}
			layers = i + 1
		}
		pooler = pooler || name == "pooler.dense.weight"
	}
	if walkErr != nil && (layers == 0 || layers*paramsPerLayer > len(named)) {
		// Too few names to be complete (a huge layer number need not be listed).
		return nil, rep, fmt.Errorf("cannot identify the encoder layers: %w", walkErr)
	}
	var missing []string
	for _, name := range paramNames(layers, pooler) {
		if _, ok := have[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		if walkErr != nil {
			return nil, rep, fmt.Errorf("cannot find %v: %w", missing, walkErr)
		}
		return nil, rep, fmt.Errorf("cannot find %v", missing)
	}

	out := map[string]*tensor.Tensor{}
	used := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(params)) {
		p := params[name]
		t, err := g.tensorOf(p)
		if err != nil {
			return nil, rep, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = t
		root, _, _ := g.constant(p.value)
		used[root] = true
		_, byName := named[name]
		_, byStructure := w.params[name]
		rep.Params = append(rep.Params, Match{name, root, byName, byStructure, p.transposed})
	}
	rep.Config = Config{NumHiddenLayers: layers, NumAttentionHeads: w.heads, LayerNormEps: w.eps, HiddenAct: w.act, Pooler: pooler}
	if err := checkShapes(out, &rep.Config); err != nil {
		return nil, rep, err
	}
	for _, t := range g.inits {
		if !used[t.Name] {
			rep.Unused = append(rep.Unused, Unused{Name: t.Name, Dims: t.Dims, UsedBy: g.firstUser(t.Name)})
		}
	}
	rep.StructureErr = walkErr
	return out, rep, nil
}

var layerRE = regexp.MustCompile(`^encoder\.layer\.(\d+)\.`)

// layerIndex returns the layer number in a canonical name.
func layerIndex(name string) (int, bool) {
	m := layerRE.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	i, err := strconv.Atoi(m[1])
	return i, err == nil
}

// paramsPerLayer is the number of parameters of an encoder layer.
const paramsPerLayer = 16

// paramNames lists the canonical parameter names of a BertModel.
func paramNames(layers int, pooler bool) []string {
	names := []string{
		"embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
		"embeddings.token_type_embeddings.weight", "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias",
	}
	for i := range layers {
		for _, p := range []string{
			"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
			"attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm",
		} {
			prefix := fmt.Sprintf("encoder.layer.%d.%s", i, p)
			names = append(names, prefix+".weight", prefix+".bias")
		}
	}
	if pooler {
		names = append(names, "pooler.dense.weight", "pooler.dense.bias")
	}
	return names
}

// checkShapes fills the sizes in cfg from the embedding and intermediate
// weights and checks every parameter's shape and dtype against them.
func checkShapes(ps map[string]*tensor.Tensor, cfg *Config) error {
	shape := func(name string, dim int) int {
		if t, ok := ps[name]; ok && dim < len(t.Shape) {
			return t.Shape[dim]
		}
		return -1
	}
	h := shape("embeddings.word_embeddings.weight", 1)
	cfg.HiddenSize = h
	cfg.VocabSize = shape("embeddings.word_embeddings.weight", 0)
	cfg.MaxPositionEmbeddings = shape("embeddings.position_embeddings.weight", 0)
	cfg.TypeVocabSize = shape("embeddings.token_type_embeddings.weight", 0)
	ffn := shape("encoder.layer.0.intermediate.dense.weight", 0)
	cfg.IntermediateSize = ffn
	want := map[string][]int{
		"embeddings.word_embeddings.weight":       {cfg.VocabSize, h},
		"embeddings.position_embeddings.weight":   {cfg.MaxPositionEmbeddings, h},
		"embeddings.token_type_embeddings.weight": {cfg.TypeVocabSize, h},
		"embeddings.LayerNorm.weight":             {h},
		"embeddings.LayerNorm.bias":               {h},
		"pooler.dense.weight":                     {h, h},
		"pooler.dense.bias":                       {h},
	}
	for i := range cfg.NumHiddenLayers {
		for p, s := range map[string][]int{
			"attention.self.query.weight": {h, h}, "attention.self.key.weight": {h, h},
			"attention.self.value.weight": {h, h}, "attention.output.dense.weight": {h, h},
			"attention.self.query.bias": {h}, "attention.self.key.bias": {h}, "attention.self.value.bias": {h},
			"attention.output.dense.bias": {h}, "attention.output.LayerNorm.weight": {h},
			"attention.output.LayerNorm.bias": {h}, "intermediate.dense.weight": {ffn, h},
			"intermediate.dense.bias": {ffn}, "output.dense.weight": {h, ffn}, "output.dense.bias": {h},
			"output.LayerNorm.weight": {h}, "output.LayerNorm.bias": {h},
		} {
			want[fmt.Sprintf("encoder.layer.%d.%s", i, p)] = s
		}
	}
	for name, t := range ps {
		if !slices.Equal(t.Shape, want[name]) || slices.Contains(want[name], -1) {
			return fmt.Errorf("%s: shape %v does not fit hidden size %d and intermediate size %d (want %v)", name, t.Shape, h, ffn, want[name])
		}
		if !t.DType.IsFloat() {
			return fmt.Errorf("%s: dtype %s is not a floating-point type", name, t.DType)
		}
	}
	return nil
}

// tensorOf returns a copy of p's data in PyTorch orientation.
func (g *graph) tensorOf(p param) (*tensor.Tensor, error) {
	_, c, ok := g.constant(p.value)
	if !ok {
		return nil, fmt.Errorf("%q is not a constant", p.value)
	}
	t, err := c.ToTensor()
	if err != nil {
		return nil, err
	}
	if !p.transposed {
		return &tensor.Tensor{DType: t.DType, Shape: t.Shape, Data: bytes.Clone(t.Data)}, nil
	}
	if len(t.Shape) != 2 {
		return nil, fmt.Errorf("%q: cannot transpose shape %v", p.value, t.Shape)
	}
	rows, cols := t.Shape[0], t.Shape[1]
	size, _ := t.DType.Size()
	data := make([]byte, len(t.Data))
	for r := range rows {
		for c := range cols {
			copy(data[(c*rows+r)*size:][:size], t.Data[(r*cols+c)*size:][:size])
		}
	}
	return &tensor.Tensor{DType: t.DType, Shape: []int{cols, rows}, Data: data}, nil
}

// sameTensor reports whether p and q hold the same values (after
// transposition), as deduplicated parameters do.
func (g *graph) sameTensor(p, q param) (bool, error) {
	if p.value == q.value && p.transposed == q.transposed {
		return true, nil
	}
	a, err := g.tensorOf(p)
	if err != nil {
		return false, err
	}
	b, err := g.tensorOf(q)
	if err != nil {
		return false, err
	}
	return a.DType == b.DType && slices.Equal(a.Shape, b.Shape) && bytes.Equal(a.Data, b.Data), nil
}

// firstUser names the first node that reads v, directly or through
// Identity nodes.
func (g *graph) firstUser(v string) string {
	for _, n := range g.nodes {
		for _, in := range n.Input {
			if in != "" && slices.Contains(g.aliases(in), v) {
				return nodeName(n)
			}
		}
	}
	return ""
}
