package onnxweights

import (
	"os"
	"testing"

	"github.com/hiertune/hiertune/onnx"
)

// fuzzOps are the operator types that mutations substitute.
var fuzzOps = []string{
	"Add", "Mul", "Div", "Sub", "MatMul", "Gemm", "Gather", "Reshape", "Transpose", "Identity", "Cast",
	"Softmax", "Tanh", "Erf", "LayerNormalization", "ReduceMean", "Pow", "Sqrt", "Slice", "Concat", "Constant",
}

// mutate applies one edit, chosen by kind, to the node or initializer
// picked by at, with x as its argument. Raw data is never written to, since
// the decoded model shares it with the fixture bytes.
func mutate(m *onnx.Model, kind, at, x byte) {
	g := m.Graph
	n := g.Node[int(at)*len(g.Node)/256]
	pick := func(s []string) int { return int(x) % len(s) }
	switch kind % 8 {
	case 0:
		n.OpType = fuzzOps[int(x)%len(fuzzOps)]
	case 1:
		if len(n.Input) > 1 {
			i := pick(n.Input)
			n.Input[0], n.Input[i] = n.Input[i], n.Input[0]
		}
	case 2:
		if len(n.Input) > 0 {
			if src := g.Node[int(x)*len(g.Node)/256]; len(src.Output) > 0 {
				n.Input[pick(n.Input)] = src.Output[0]
			}
		}
	case 3:
		if len(n.Input) > 0 {
			n.Input = n.Input[:pick(n.Input)]
		}
	case 4:
		if len(g.Initializer) > 1 {
			i := int(at) * len(g.Initializer) / 256
			g.Initializer = append(g.Initializer[:i:i], g.Initializer[i+1:]...)
		}
	case 5:
		if t := g.Initializer[int(at)*len(g.Initializer)/256]; len(t.Dims) > 0 {
			t.Dims = append([]int64(nil), t.Dims...)
			t.Dims[int(x)%len(t.Dims)] = int64(x) - 128
		}
	case 6:
		for _, a := range n.Attribute {
			a.I = int64(x) - 128
			if len(a.Ints) > 0 {
				a.Ints = append([]int64{int64(x) - 128}, a.Ints[1:]...)
			}
			if a.T != nil && len(a.T.Dims) > 0 {
				a.T.Dims = []int64{int64(x) - 128}
			}
		}
	case 7:
		g.Input[int(x)%len(g.Input)].Name = fuzzOps[int(at)%len(fuzzOps)]
	}
}

// FuzzExtract edits the fixture graphs (operator types, wiring, attribute
// values, initializer shapes) and checks that Extract never panics, and that
// whatever it accepts has a consistent report.
func FuzzExtract(f *testing.F) {
	var models [][]byte
	for _, name := range []string{"a_op11_tc_anon.onnx", "a_op17.onnx", "b_op14_anon.onnx"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		models = append(models, b)
	}
	f.Add(uint8(0), []byte{})
	f.Add(uint8(1), []byte{0, 100, 7, 2, 50, 60})
	f.Add(uint8(2), []byte{5, 10, 200, 6, 30, 129, 1, 40, 3})
	f.Fuzz(func(t *testing.T, which uint8, edits []byte) {
		m, err := onnx.Decode(models[int(which)%len(models)])
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+2 < len(edits); i += 3 {
			mutate(m, edits[i], edits[i+1], edits[i+2])
		}
		params, rep, err := Extract(m)
		if err != nil {
			return
		}
		if len(params) != len(rep.Params) || rep.Config.NumHiddenLayers == 0 {
			t.Fatalf("%d parameters, report lists %d, config %+v", len(params), len(rep.Params), rep.Config)
		}
	})
}
