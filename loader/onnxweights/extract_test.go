package onnxweights

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/loader/safetensors"
	"github.com/hiertune/hiertune/onnx"
	"github.com/hiertune/hiertune/tensor"
)

// readSafetensors reads a checkpoint written by the oracles' st_io.py and
// returns its tensors with the "bert." prefix removed.
func readSafetensors(t *testing.T, path string) map[string]*tensor.Tensor {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*tensor.Tensor{}
	for name, tt := range f.Tensors() {
		out[strings.TrimPrefix(name, "bert.")] = tt
	}
	return out
}

// encoderParams returns the encoder parameters of checkpoint testdata/ckpt
// (without its classifier head).
func encoderParams(t *testing.T, ckpt string) map[string]*tensor.Tensor {
	t.Helper()
	ps := readSafetensors(t, "testdata/"+ckpt+".safetensors")
	delete(ps, "classifier.weight")
	delete(ps, "classifier.bias")
	return ps
}

func readConfig(t *testing.T, path string) Config {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func readModel(t *testing.T, name string) *onnx.Model {
	t.Helper()
	m, err := onnx.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestExtractFixtures(t *testing.T) {
	for _, tc := range []struct {
		file   string
		ckpt   string
		pooler bool
		unused []string // initializers holding the classifier head
	}{
		{"a_op11_tc.onnx", "a", true, []string{"m.classifier.bias", "onnx::MatMul_"}},
		{"a_op11_tc_anon.onnx", "a", true, []string{"init_", "init_"}},
		{"a_op17.onnx", "a", true, nil},
		{"a_op17_anon.onnx", "a", true, nil},
		{"b_op14.onnx", "b", false, nil},
		{"b_op14_anon.onnx", "b", false, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			anon := strings.HasSuffix(tc.file, "_anon.onnx")
			want := encoderParams(t, tc.ckpt)
			wantCfg := readConfig(t, "testdata/"+tc.ckpt+".config.json")
			wantCfg.Pooler = tc.pooler

			got, rep, err := Extract(readModel(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			checkParams(t, got, want)
			if rep.Config != wantCfg {
				t.Errorf("config = %+v\nwant     %+v", rep.Config, wantCfg)
			}
			if rep.StructureErr != nil {
				t.Errorf("structure walk failed: %v", rep.StructureErr)
			}
			if len(rep.Params) != len(want) {
				t.Errorf("report lists %d parameters, want %d", len(rep.Params), len(want))
			}
			for _, p := range rep.Params {
				// Every parameter is found by the walk; a named export also names each one.
				if !p.ByStructure || p.ByName == anon {
					t.Errorf("%s: ByStructure %v, ByName %v", p.Name, p.ByStructure, p.ByName)
				}
				// MatMul weights are stored [in, out]; the pooler's Gemm has transB=1.
				wantT := strings.HasSuffix(p.Name, ".weight") && isLinear(p.Name) && p.Name != "pooler.dense.weight"
				if p.Transposed != wantT {
					t.Errorf("%s: Transposed = %v", p.Name, p.Transposed)
				}
			}
			if len(rep.Unused) != len(tc.unused) {
				t.Fatalf("unused initializers %+v, want %v", rep.Unused, tc.unused)
			}
			for i, u := range rep.Unused {
				if !strings.HasPrefix(u.Name, tc.unused[i]) || u.UsedBy == "" {
					t.Errorf("unused[%d] = %+v, want a name starting with %q and a user", i, u, tc.unused[i])
				}
			}
		})
	}
}

// checkParams compares extracted tensors with the checkpoint bit for bit.
func checkParams(t *testing.T, got, want map[string]*tensor.Tensor) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: not extracted", name)
		case g.DType != w.DType || !slices.Equal(g.Shape, w.Shape):
			t.Errorf("%s: got %s%v, want %s%v", name, g.DType, g.Shape, w.DType, w.Shape)
		case !bytes.Equal(g.Data, w.Data):
			t.Errorf("%s: values differ from the checkpoint", name)
		}
	}
	for name := range got {
		if want[name] == nil {
			t.Errorf("%s: extracted but not in the checkpoint", name)
		}
	}
}

// TestExtractOwnsData checks that deduplicated parameters do not share
// memory with each other or with the model.
func TestExtractOwnsData(t *testing.T) {
	m := readModel(t, "b_op14.onnx")
	got, _, err := Extract(m)
	if err != nil {
		t.Fatal(err)
	}
	got["encoder.layer.0.attention.self.query.bias"].Data[0] = 1
	if got["encoder.layer.0.attention.self.key.bias"].Data[0] != 0 || m.Graph.Initializer[4].RawData[0] != 0 {
		t.Error("writing one extracted tensor changed another one or the model")
	}
}

// TestExtractUnfamiliarInputNames renames the graph inputs, leaving only
// the table sizes to tell the word and token type lookups apart.
func TestExtractUnfamiliarInputNames(t *testing.T) {
	m := readModel(t, "a_op17_anon.onnx")
	rename := map[string]string{"input_ids": "x0", "attention_mask": "x1", "token_type_ids": "x2"}
	for _, in := range m.Graph.Input {
		in.Name = rename[in.Name]
	}
	for _, n := range m.Graph.Node {
		for i, in := range n.Input {
			if r, ok := rename[in]; ok {
				n.Input[i] = r
			}
		}
	}
	got, _, err := Extract(m)
	if err != nil {
		t.Fatal(err)
	}
	checkParams(t, got, encoderParams(t, "a"))
}

func nodeWith(t *testing.T, m *onnx.Model, op string, pred func(*onnx.Node) bool) *onnx.Node {
	t.Helper()
	for _, n := range m.Graph.Node {
		if n.OpType == op && pred(n) {
			return n
		}
	}
	t.Fatalf("no %s node found", op)
	return nil
}

func anyNode(*onnx.Node) bool { return true }

// breakActivation makes the first layer's activation unrecognisable.
func breakActivation(t *testing.T, m *onnx.Model) {
	nodeWith(t, m, "Erf", anyNode).OpType = "Sin"
}

// TestExtractByNamesAlone checks that a named export still loads when the
// walk cannot get past an unknown operator, and that an anonymous one then
// fails with the reason.
func TestExtractByNamesAlone(t *testing.T) {
	m := readModel(t, "a_op17.onnx")
	breakActivation(t, m)
	got, rep, err := Extract(m)
	if err != nil {
		t.Fatal(err)
	}
	checkParams(t, got, encoderParams(t, "a"))
	if rep.StructureErr == nil || !strings.Contains(rep.StructureErr.Error(), "encoder.layer.0: unknown activation before") {
		t.Errorf("StructureErr = %v", rep.StructureErr)
	}
	if rep.Config.HiddenAct != "" || rep.Config.NumHiddenLayers != 2 || rep.Config.HiddenSize != 16 {
		t.Errorf("config = %+v, want 2 layers, hidden 16 and no activation", rep.Config)
	}

	m = readModel(t, "a_op17_anon.onnx")
	breakActivation(t, m)
	_, _, err = Extract(m)
	if err == nil || !strings.Contains(err.Error(), "cannot identify the encoder layers: encoder.layer.0: unknown activation") ||
		!strings.Contains(err.Error(), "operators [Div Mul Sin Mul]") {
		t.Errorf("error = %v", err)
	}
}

func TestExtractErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		file   string
		modify func(t *testing.T, m *onnx.Model)
		want   string
	}{
		{"swapped biases", "a_op17.onnx", func(t *testing.T, m *onnx.Model) {
			q := nodeWith(t, m, "Add", func(n *onnx.Node) bool { return strings.Contains(n.Name, "layer.0/attention/self/query/") })
			k := nodeWith(t, m, "Add", func(n *onnx.Node) bool { return strings.Contains(n.Name, "layer.0/attention/self/key/") })
			q.Input[0], k.Input[0] = k.Input[0], q.Input[0]
		}, `encoder.layer.0.attention.self.key.bias: the graph names "m.bert.encoder.layer.0.attention.self.key.bias", but /bert/layer.0/attention/self/key/Add uses "m.bert.encoder.layer.0.attention.self.query.bias" in its place`},
		{"two tensors with one name", "a_op17.onnx", func(t *testing.T, m *onnx.Model) {
			// Rename the key bias so that it, too, ends in ...query.bias.
			const key, query = "m.bert.encoder.layer.0.attention.self.key.bias", "m.bert.encoder.layer.0.attention.self.query.bias"
			nodeWith(t, m, "Add", func(n *onnx.Node) bool { return n.Input[0] == key }).Input[0] = "copy." + query
			for _, init := range m.Graph.Initializer {
				if init.Name == key {
					init.Name = "copy." + query
				}
			}
		}, `two different tensors are named like encoder.layer.0.attention.self.query.weight: "onnx::MatMul_285" (used by /bert/layer.0/attention/self/query/MatMul) and "onnx::MatMul_288" (used by /bert/layer.0/attention/self/key/MatMul)`},
		{"missing position table", "a_op17_anon.onnx", func(t *testing.T, m *onnx.Model) {
			lookup := nodeWith(t, m, "Gather", func(n *onnx.Node) bool {
				return strings.HasPrefix(n.Input[0], "init_") && strings.HasPrefix(n.Input[1], "v_")
			})
			m.Graph.Initializer = slices.DeleteFunc(m.Graph.Initializer, func(x *onnx.Tensor) bool { return x.Name == lookup.Input[0] })
		}, "cannot find [embeddings.position_embeddings.weight]"},
		{"bad bias shape", "a_op17_anon.onnx", func(t *testing.T, m *onnx.Model) {
			b := m.Graph.Initializer[slices.IndexFunc(m.Graph.Initializer, func(x *onnx.Tensor) bool { return slices.Equal(x.Dims, []int64{16}) })]
			b.Dims = []int64{2, 8}
		}, "shape [2 8] does not fit hidden size 16"},
		{"no attention", "a_op17_anon.onnx", func(t *testing.T, m *onnx.Model) {
			nodeWith(t, m, "Softmax", anyNode).OpType = "Exp"
		}, "encoder.layer.0: no single Softmax after the attention scores node_"},
		{"no heads", "b_op14_anon.onnx", func(t *testing.T, m *onnx.Model) {
			for _, n := range m.Graph.Node {
				if n.OpType == "Constant" && n.Attribute[0].T.DataType == onnx.Int64 && slices.Equal(n.Attribute[0].T.Dims, []int64{1}) {
					n.Attribute[0].T.RawData = make([]byte, 8)
				}
			}
		}, "no Reshape after node_"},
		{"broken LayerNorm", "a_op11_tc_anon.onnx", func(t *testing.T, m *onnx.Model) {
			nodeWith(t, m, "Sqrt", anyNode).OpType = "Abs"
		}, "embeddings: LayerNorm on"},
		{"mean at an odd operand", "a_op11_tc_anon.onnx", func(t *testing.T, m *onnx.Model) {
			mean := nodeWith(t, m, "ReduceMean", anyNode).Output[0]
			sub := nodeWith(t, m, "Sub", func(n *onnx.Node) bool { return n.Input[1] == mean })
			sub.Input = []string{sub.Input[0], "", mean}
		}, "LayerNorm subtracts the mean from"},
		{"huge layer number", "a_op17.onnx", func(t *testing.T, m *onnx.Model) {
			breakActivation(t, m)
			const old, huge = "m.bert.encoder.layer.0.intermediate.dense.bias", "m.bert.encoder.layer.999999999.intermediate.dense.bias"
			initializer(t, m, old).Name = huge
			nodeWith(t, m, "Add", func(n *onnx.Node) bool { return n.Input[0] == old }).Input[0] = huge
		}, "cannot identify the encoder layers: encoder.layer.0: unknown activation"},
		{"undefined tensor", "a_op17_anon.onnx", func(t *testing.T, m *onnx.Model) {
			m.Graph.Initializer[0].DataType = onnx.Undefined
		}, "no Gather looks up the input ids"},
		{"duplicate producer", "a_op17_anon.onnx", func(t *testing.T, m *onnx.Model) {
			m.Graph.Node = append(m.Graph.Node, m.Graph.Node[0])
		}, "is produced by two nodes"},
		{"nil graph", "a_op17_anon.onnx", func(t *testing.T, m *onnx.Model) { m.Graph = nil }, "model has no graph"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := readModel(t, tc.file)
			tc.modify(t, m)
			_, _, err := Extract(m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// transposeInit replaces a 2-D float32 initializer by its transpose.
func transposeInit(x *onnx.Tensor) {
	r, c := int(x.Dims[0]), int(x.Dims[1])
	data := make([]byte, len(x.RawData))
	for i := range r {
		for j := range c {
			copy(data[(j*r+i)*4:][:4], x.RawData[(i*c+j)*4:][:4])
		}
	}
	x.Dims, x.RawData = []int64{int64(c), int64(r)}, data
}

func initializer(t *testing.T, m *onnx.Model, name string) *onnx.Tensor {
	t.Helper()
	for _, x := range m.Graph.Initializer {
		if x.Name == name {
			return x
		}
	}
	t.Fatalf("no initializer %q", name)
	return nil
}

// TestExtractLayoutVariants rewrites the exports into forms that other
// exporters produce; the extracted weights must not change.
func TestExtractLayoutVariants(t *testing.T) {
	isScores := func(n *onnx.Node) bool {
		return strings.HasPrefix(n.Input[0], "v_") && strings.HasPrefix(n.Input[1], "v_")
	}
	for _, tc := range []struct {
		name   string
		file   string
		modify func(t *testing.T, m *onnx.Model)
	}{
		{"Gemm with transB=0", "a_op17.onnx", func(t *testing.T, m *onnx.Model) {
			gemm := nodeWith(t, m, "Gemm", anyNode)
			gemm.Attr("transB").I = 0
			transposeInit(initializer(t, m, gemm.Input[1]))
		}},
		{"MatMul of a transposed weight", "a_op17_anon.onnx", func(t *testing.T, m *onnx.Model) {
			mm := nodeWith(t, m, "MatMul", func(n *onnx.Node) bool { return strings.HasPrefix(n.Input[1], "init_") })
			transposeInit(initializer(t, m, mm.Input[1]))
			tr := &onnx.Node{OpType: "Transpose", Input: []string{mm.Input[1]}, Output: []string{"w_t"},
				Attribute: []*onnx.Attribute{{Name: "perm", Type: onnx.AttributeInts, Ints: []int64{1, 0}}}}
			m.Graph.Node = append([]*onnx.Node{tr}, m.Graph.Node...)
			mm.Input[1] = "w_t"
		}},
		{"query and key scaled before the scores (SDPA style)", "a_op17_anon.onnx", func(t *testing.T, m *onnx.Model) {
			scores := nodeWith(t, m, "MatMul", isScores)
			scale := &onnx.Node{OpType: "Constant", Output: []string{"scale"}, Attribute: []*onnx.Attribute{{
				Name: "value", Type: onnx.AttributeTensor, T: &onnx.Tensor{DataType: onnx.Float, FloatData: []float32{0.5}}}}}
			m.Graph.Node = append(m.Graph.Node, scale)
			for i, in := range scores.Input {
				mul := &onnx.Node{OpType: "Mul", Input: []string{in, "scale"}, Output: []string{in + "_scaled"}}
				m.Graph.Node = append(m.Graph.Node, mul)
				scores.Input[i] = mul.Output[0]
			}
		}},
		{"ids cast to int64", "a_op11_tc_anon.onnx", func(t *testing.T, m *onnx.Model) {
			lookup := nodeWith(t, m, "Gather", func(n *onnx.Node) bool { return n.Input[1] == "input_ids" })
			cast := &onnx.Node{OpType: "Cast", Input: []string{"input_ids"}, Output: []string{"ids64"},
				Attribute: []*onnx.Attribute{{Name: "to", Type: onnx.AttributeInt, I: int64(onnx.Int64)}}}
			m.Graph.Node = append(m.Graph.Node, cast)
			lookup.Input[1] = "ids64"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := readModel(t, tc.file)
			tc.modify(t, m)
			got, rep, err := Extract(m)
			if err != nil {
				t.Fatal(err)
			}
			if rep.StructureErr != nil {
				t.Errorf("structure walk failed: %v", rep.StructureErr)
			}
			checkParams(t, got, encoderParams(t, "a"))
		})
	}
}
