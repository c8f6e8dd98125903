package onnx

import (
	"bytes"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func readModel(t *testing.T, path string) *Model {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func TestRoundTripFixtures(t *testing.T) {
	for _, tc := range []struct {
		file string
		// byteIdentical: the python file sets no field to its zero value,
		// so Encode reproduces it exactly.
		byteIdentical bool
	}{
		{"testdata/bert_op14.onnx", true},
		{"testdata/features.onnx", false},
		{"testdata/external.onnx", false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			orig, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Decode(orig)
			if err != nil {
				t.Fatal(err)
			}
			b, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if tc.byteIdentical && !bytes.Equal(b, orig) {
				t.Errorf("Encode(Decode(file)) differs from the file (%d vs %d bytes)", len(b), len(orig))
			}
			m2, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m, m2) {
				t.Errorf("Decode(Encode(m)) != m")
			}
		})
	}
}

func TestDecodeFeatures(t *testing.T) {
	m := readModel(t, "testdata/features.onnx")
	if m.ProducerName != "make_fixtures.py" || m.Domain != "test.hiertune" || m.ModelVersion != 3 ||
		m.DocString != "model doc" || m.IRVersion != 8 {
		t.Errorf("model fields: %+v", m)
	}
	wantOpsets := []OperatorSetID{{"", 14}, {"test.hiertune", 1}}
	if !reflect.DeepEqual(m.OpsetImport, wantOpsets) {
		t.Errorf("opset_import = %v, want %v", m.OpsetImport, wantOpsets)
	}
	wantProps := []StringStringEntry{{"author", "hiertune"}, {"empty", ""}}
	if !reflect.DeepEqual(m.MetadataProps, wantProps) {
		t.Errorf("metadata_props = %v, want %v", m.MetadataProps, wantProps)
	}
	g := m.Graph
	if g.Name != "features" || g.DocString != "graph doc" || len(g.Node) != 4 {
		t.Fatalf("graph %q (doc %q) with %d nodes", g.Name, g.DocString, len(g.Node))
	}
	if n := g.Node[1]; n.OpType != "ReduceSum" || n.DocString != "sums" || n.Attr("keepdims") == nil || n.Attr("keepdims").I != 0 {
		t.Errorf("ReduceSum node: %+v", n)
	}
	if ifNode := g.Node[2]; ifNode.Attr("then_branch").G.Name != "then" || ifNode.Attr("else_branch").G.Node[0].OpType != "Neg" {
		t.Errorf("If node subgraphs not decoded: %+v", ifNode)
	}
	c := g.Node[3]
	if c.Domain != "test.hiertune" || !reflect.DeepEqual(c.Input, []string{"x", ""}) {
		t.Errorf("custom node: domain %q, inputs %q", c.Domain, c.Input)
	}
	for _, want := range []*Attribute{
		{Name: "f", Type: AttributeFloat, F: 0.25},
		{Name: "f0", Type: AttributeFloat},
		{Name: "i", Type: AttributeInt, I: -3},
		{Name: "i0", Type: AttributeInt},
		{Name: "s", Type: AttributeString, S: []byte("bytes\x00\xff")},
		{Name: "s0", Type: AttributeString, S: []byte{}},
		{Name: "floats", Type: AttributeFloats, Floats: []float32{1, -2.5}},
		{Name: "ints", Type: AttributeInts, Ints: []int64{1, -2, 1 << 40}},
		{Name: "strings", Type: AttributeStrings, Strings: [][]byte{[]byte("a"), []byte("bc")}},
	} {
		if got := c.Attr(want.Name); !reflect.DeepEqual(got, want) {
			t.Errorf("attribute %s = %+v, want %+v", want.Name, got, want)
		}
	}
	if a := c.Attr("t"); a.Type != AttributeTensor || a.T.Name != "tt" || !reflect.DeepEqual(a.T.FloatData, []float32{1.5}) {
		t.Errorf("attribute t = %+v", a)
	}
	if a := c.Attr("g"); a.Type != AttributeGraph || a.G.Name != "then" {
		t.Errorf("attribute g = %+v", a)
	}
	if a := c.Attr("tensors"); a.Type != AttributeTensors || len(a.Tensors) != 1 || !reflect.DeepEqual(a.Tensors[0].Int32Data, []int32{1, 2}) {
		t.Errorf("attribute tensors = %+v", a)
	}
	if a := c.Attr("graphs"); a.Type != AttributeGraphs || len(a.Graphs) != 2 || a.Graphs[1].Name != "else" {
		t.Errorf("attribute graphs = %+v", a)
	}
	z := g.Output[1]
	wantZ := &ValueInfo{Name: "z", Type: &Type{Tensor: &TensorType{ElemType: Float, Shape: &Shape{
		Dim: []Dimension{{Param: "batch"}, {}, {HasValue: true}}}}}}
	if !reflect.DeepEqual(z, wantZ) {
		t.Errorf("output z = %+v, want %+v", z.Type.Tensor.Shape, wantZ.Type.Tensor.Shape)
	}
	if vi := g.ValueInfo[0]; vi.Name != "c" || vi.Type.Tensor.ElemType != Int64 || vi.Type.Tensor.Shape != nil {
		t.Errorf("value_info c = %+v (want INT64, unknown rank)", vi.Type.Tensor)
	}
}

// msg builds an encoded message from alternating field numbers and values
// (uint64 → varint, float32 → fixed32, []byte → bytes).
func msg(fields ...any) []byte {
	var b []byte
	for i := 0; i < len(fields); i += 2 {
		num := protowire.Number(fields[i].(int))
		switch v := fields[i+1].(type) {
		case uint64:
			b = protowire.AppendTag(b, num, protowire.VarintType)
			b = protowire.AppendVarint(b, v)
		case float32:
			b = protowire.AppendTag(b, num, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(v))
		case []byte:
			b = protowire.AppendTag(b, num, protowire.BytesType)
			b = protowire.AppendBytes(b, v)
		}
	}
	return b
}

func TestDecodeUnpackedAndUnknownFields(t *testing.T) {
	tensor := msg(
		1, uint64(2), 1, uint64(3), // unpacked dims
		2, uint64(Float),
		4, float32(1.5), 4, float32(-2), // unpacked float_data
		4, msg(), // an empty packed run adds nothing
		5, uint64(1<<64-1), // int32 -1, sign-extended
		99, uint64(7), 98, []byte("unknown"), // unknown fields
		7, []byte{0x01, 0x80, 0x01}, // packed int64_data: 1, 128
		8, []byte("w"),
	)
	b := msg(1, uint64(9), 7, msg(5, tensor), 1000, float32(0)) // unknown fixed32 field
	m, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got := m.Graph.Initializer[0]
	want := &Tensor{Dims: []int64{2, 3}, DataType: Float, FloatData: []float32{1.5, -2},
		Int32Data: []int32{-1}, Int64Data: []int64{1, 128}, Name: "w"}
	if !reflect.DeepEqual(got, want) || m.IRVersion != 9 {
		t.Errorf("decoded %+v, want %+v", got, want)
	}
}

func TestDecodeErrors(t *testing.T) {
	deep := msg(1, msg(4, []byte("If")))
	for range maxDepth + 1 {
		deep = msg(1, msg(5, msg(1, []byte("body"), 6, deep)))
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"truncated tag", []byte{0x80}, "ModelProto.field tag"},
		{"truncated varint", []byte{0x08, 0x80}, "ModelProto.field #1"},
		{"truncated bytes", []byte{0x3a, 0x05, 0x00}, "ModelProto.field #7"},
		{"ir_version as bytes", msg(1, []byte("x")), "ModelProto.ir_version: wire type bytes, want varint"},
		{"graph as varint", msg(7, uint64(1)), "ModelProto.graph: wire type varint, want bytes"},
		{"bad node", msg(7, msg(1, msg(1, []byte("a")), 1, msg(3, uint64(1)))), "ModelProto.graph: GraphProto.node[1]: NodeProto.name: wire type varint"},
		{"bad float_data", msg(7, msg(5, msg(4, []byte{1, 2, 3}))), "TensorProto.float_data: packed length 3 is not a multiple of 4"},
		{"bad double_data", msg(7, msg(5, msg(10, []byte{1, 2, 3}))), "TensorProto.double_data: packed length 3 is not a multiple of 8"},
		{"bad packed dims", msg(7, msg(5, msg(1, []byte{0x80}))), "TensorProto.dims: packed varint"},
		{"dims as fixed32", msg(7, msg(5, msg(1, float32(1)))), "TensorProto.dims: wire type fixed32, want varint or packed bytes"},
		{"attribute f as varint", msg(7, msg(1, msg(5, msg(2, uint64(1))))), "NodeProto.attribute[0]: AttributeProto.f: wire type varint, want fixed32"},
		{"bad dim", msg(7, msg(11, msg(2, msg(1, msg(2, msg(1, msg(1, []byte("x")))))))), "TypeProto.Tensor.shape: TensorShapeProto.dim[0]: Dimension.dim_value"},
		{"bad opset", msg(8, msg(2, []byte("x"))), "ModelProto.opset_import[0]: OperatorSetIdProto.version"},
		{"bad external entry", msg(7, msg(5, msg(13, msg(1, uint64(3))))), "TensorProto.external_data[0]: StringStringEntryProto.key"},
		{"lone end group", []byte{0x0c}, "ModelProto.field #1"},
		{"too deep", msg(7, deep), "graphs nested more than 64 deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	loop := &Graph{Name: "loop"}
	loop.Node = []*Node{{OpType: "If", Attribute: []*Attribute{{Name: "then_branch", Type: AttributeGraph, G: loop}}}}
	for _, tc := range []struct {
		name string
		m    *Model
		want string
	}{
		{"nil node", &Model{Graph: &Graph{Name: "g", Node: []*Node{nil}}}, `GraphProto "g": node[0] is nil`},
		{"nil initializer", &Model{Graph: &Graph{Name: "g", Initializer: []*Tensor{nil}}}, `initializer[0] is nil`},
		{"nil output", &Model{Graph: &Graph{Output: []*ValueInfo{nil}}}, `output[0] is nil`},
		{"nil attribute", &Model{Graph: &Graph{Node: []*Node{{Name: "n", Attribute: []*Attribute{nil}}}}}, `NodeProto "n": attribute[0] is nil`},
		{"nil attribute graph", &Model{Graph: &Graph{Node: []*Node{{Attribute: []*Attribute{{Name: "a", Graphs: []*Graph{nil}}}}}}}, `AttributeProto "a": graphs[0] is nil`},
		{"cyclic graph", &Model{Graph: loop}, "graphs nested more than 64 deep"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.m.Encode()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Encode error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
