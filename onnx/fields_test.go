package onnx

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

// fieldNumbers is testdata/field_numbers.json, dumped from the python onnx
// package's descriptors by make_fixtures.py.
type fieldNumbers struct {
	Messages      map[string]map[string]struct{ Number, Wire int }
	DataType      map[string]int32
	AttributeType map[string]int32
	DataLocation  map[string]int32
}

func loadFieldNumbers(t *testing.T) *fieldNumbers {
	t.Helper()
	b, err := os.ReadFile("testdata/field_numbers.json")
	if err != nil {
		t.Fatal(err)
	}
	var fn fieldNumbers
	if err := json.Unmarshal(b, &fn); err != nil {
		t.Fatal(err)
	}
	return &fn
}

type rawField struct {
	num  protowire.Number
	typ  protowire.Type
	body []byte // payload of a length-delimited field
}

func rawFields(t *testing.T, b []byte) []rawField {
	t.Helper()
	var out []rawField
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		f := rawField{num: num, typ: typ}
		if typ == protowire.BytesType {
			f.body, n = protowire.ConsumeBytes(b)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			t.Fatalf("bad field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		out = append(out, f)
	}
	return out
}

// TestFieldNumbers encodes models in which exactly one field of one message
// is set and checks that the encoder writes that field with the number and
// wire type that onnx.proto gives it. Decoding uses the same numbers, which
// the round-trip tests check.
func TestFieldNumbers(t *testing.T) {
	fn := loadFieldNumbers(t)
	graph := func(g *Graph) *Model { return &Model{Graph: g} }
	tensorIn := func(tn *Tensor) *Model { return graph(&Graph{Initializer: []*Tensor{tn}}) }
	node := func(n *Node) *Model { return graph(&Graph{Node: []*Node{n}}) }
	attr := func(a *Attribute) *Model { return node(&Node{Attribute: []*Attribute{a}}) }
	input := func(v *ValueInfo) *Model { return graph(&Graph{Input: []*ValueInfo{v}}) }
	typ := func(tt *TensorType) *Model { return input(&ValueInfo{Type: &Type{Tensor: tt}}) }
	dim := func(d Dimension) *Model { return typ(&TensorType{Shape: &Shape{Dim: []Dimension{d}}}) }

	toGraph := []string{"onnx.ModelProto.graph"}
	toTensor := append(slices.Clip(toGraph), "onnx.GraphProto.initializer")
	toNode := append(slices.Clip(toGraph), "onnx.GraphProto.node")
	toAttr := append(slices.Clip(toNode), "onnx.NodeProto.attribute")
	toInput := append(slices.Clip(toGraph), "onnx.GraphProto.input")
	toType := append(slices.Clip(toInput), "onnx.ValueInfoProto.type")
	toTensorType := append(slices.Clip(toType), "onnx.TypeProto.tensor_type")
	toShape := append(slices.Clip(toTensorType), "onnx.TypeProto.Tensor.shape")
	toDim := append(slices.Clip(toShape), "onnx.TensorShapeProto.dim")

	cases := []struct {
		field string // message.field as in field_numbers.json
		m     *Model
		via   []string // fields leading from the ModelProto to the message
	}{
		{"onnx.ModelProto.ir_version", &Model{IRVersion: 8}, nil},
		{"onnx.ModelProto.opset_import", &Model{OpsetImport: []OperatorSetID{{}}}, nil},
		{"onnx.ModelProto.producer_name", &Model{ProducerName: "p"}, nil},
		{"onnx.ModelProto.producer_version", &Model{ProducerVersion: "1"}, nil},
		{"onnx.ModelProto.domain", &Model{Domain: "d"}, nil},
		{"onnx.ModelProto.model_version", &Model{ModelVersion: 2}, nil},
		{"onnx.ModelProto.doc_string", &Model{DocString: "doc"}, nil},
		{"onnx.ModelProto.graph", graph(&Graph{}), nil},
		{"onnx.ModelProto.metadata_props", &Model{MetadataProps: []StringStringEntry{{}}}, nil},
		{"onnx.OperatorSetIdProto.domain", &Model{OpsetImport: []OperatorSetID{{Domain: "d"}}}, []string{"onnx.ModelProto.opset_import"}},
		{"onnx.OperatorSetIdProto.version", &Model{OpsetImport: []OperatorSetID{{Version: 17}}}, []string{"onnx.ModelProto.opset_import"}},
		{"onnx.StringStringEntryProto.key", &Model{MetadataProps: []StringStringEntry{{Key: "k"}}}, []string{"onnx.ModelProto.metadata_props"}},
		{"onnx.StringStringEntryProto.value", &Model{MetadataProps: []StringStringEntry{{Value: "v"}}}, []string{"onnx.ModelProto.metadata_props"}},

		{"onnx.GraphProto.node", graph(&Graph{Node: []*Node{{}}}), toGraph},
		{"onnx.GraphProto.name", graph(&Graph{Name: "g"}), toGraph},
		{"onnx.GraphProto.initializer", graph(&Graph{Initializer: []*Tensor{{}}}), toGraph},
		{"onnx.GraphProto.doc_string", graph(&Graph{DocString: "doc"}), toGraph},
		{"onnx.GraphProto.input", graph(&Graph{Input: []*ValueInfo{{}}}), toGraph},
		{"onnx.GraphProto.output", graph(&Graph{Output: []*ValueInfo{{}}}), toGraph},
		{"onnx.GraphProto.value_info", graph(&Graph{ValueInfo: []*ValueInfo{{}}}), toGraph},

		{"onnx.NodeProto.input", node(&Node{Input: []string{"x"}}), toNode},
		{"onnx.NodeProto.output", node(&Node{Output: []string{"y"}}), toNode},
		{"onnx.NodeProto.name", node(&Node{Name: "n"}), toNode},
		{"onnx.NodeProto.op_type", node(&Node{OpType: "Add"}), toNode},
		{"onnx.NodeProto.domain", node(&Node{Domain: "com.microsoft"}), toNode},
		{"onnx.NodeProto.attribute", node(&Node{Attribute: []*Attribute{{}}}), toNode},
		{"onnx.NodeProto.doc_string", node(&Node{DocString: "doc"}), toNode},

		{"onnx.AttributeProto.name", attr(&Attribute{Name: "axis"}), toAttr},
		{"onnx.AttributeProto.type", attr(&Attribute{Type: AttributeFloats}), toAttr},
		{"onnx.AttributeProto.f", attr(&Attribute{F: 0.5}), toAttr},
		{"onnx.AttributeProto.i", attr(&Attribute{I: -1}), toAttr},
		{"onnx.AttributeProto.s", attr(&Attribute{S: []byte("s")}), toAttr},
		{"onnx.AttributeProto.t", attr(&Attribute{T: &Tensor{}}), toAttr},
		{"onnx.AttributeProto.g", attr(&Attribute{G: &Graph{}}), toAttr},
		{"onnx.AttributeProto.floats", attr(&Attribute{Floats: []float32{1}}), toAttr},
		{"onnx.AttributeProto.ints", attr(&Attribute{Ints: []int64{1}}), toAttr},
		{"onnx.AttributeProto.strings", attr(&Attribute{Strings: [][]byte{{}}}), toAttr},
		{"onnx.AttributeProto.tensors", attr(&Attribute{Tensors: []*Tensor{{}}}), toAttr},
		{"onnx.AttributeProto.graphs", attr(&Attribute{Graphs: []*Graph{{}}}), toAttr},

		{"onnx.TensorProto.dims", tensorIn(&Tensor{Dims: []int64{3}}), toTensor},
		{"onnx.TensorProto.data_type", tensorIn(&Tensor{DataType: Float}), toTensor},
		{"onnx.TensorProto.segment", tensorIn(&Tensor{Segment: &Segment{}}), toTensor},
		{"onnx.TensorProto.float_data", tensorIn(&Tensor{FloatData: []float32{1}}), toTensor},
		{"onnx.TensorProto.int32_data", tensorIn(&Tensor{Int32Data: []int32{-1}}), toTensor},
		{"onnx.TensorProto.string_data", tensorIn(&Tensor{StringData: [][]byte{[]byte("s")}}), toTensor},
		{"onnx.TensorProto.int64_data", tensorIn(&Tensor{Int64Data: []int64{1}}), toTensor},
		{"onnx.TensorProto.name", tensorIn(&Tensor{Name: "w"}), toTensor},
		{"onnx.TensorProto.raw_data", tensorIn(&Tensor{RawData: []byte{}}), toTensor},
		{"onnx.TensorProto.double_data", tensorIn(&Tensor{DoubleData: []float64{1}}), toTensor},
		{"onnx.TensorProto.uint64_data", tensorIn(&Tensor{Uint64Data: []uint64{1}}), toTensor},
		{"onnx.TensorProto.data_location", tensorIn(&Tensor{DataLocation: LocationExternal}), toTensor},
		{"onnx.TensorProto.external_data", tensorIn(&Tensor{ExternalData: []StringStringEntry{{}}}), toTensor},
		{"onnx.TensorProto.Segment.begin", tensorIn(&Tensor{Segment: &Segment{Begin: 1}}), append(slices.Clip(toTensor), "onnx.TensorProto.segment")},
		{"onnx.TensorProto.Segment.end", tensorIn(&Tensor{Segment: &Segment{End: 1}}), append(slices.Clip(toTensor), "onnx.TensorProto.segment")},

		{"onnx.ValueInfoProto.name", input(&ValueInfo{Name: "x"}), toInput},
		{"onnx.ValueInfoProto.type", input(&ValueInfo{Type: &Type{}}), toInput},
		{"onnx.ValueInfoProto.doc_string", input(&ValueInfo{DocString: "doc"}), toInput},
		{"onnx.TypeProto.tensor_type", input(&ValueInfo{Type: &Type{Tensor: &TensorType{}}}), toType},
		{"onnx.TypeProto.Tensor.elem_type", typ(&TensorType{ElemType: Int64}), toTensorType},
		{"onnx.TypeProto.Tensor.shape", typ(&TensorType{Shape: &Shape{}}), toTensorType},
		{"onnx.TensorShapeProto.dim", typ(&TensorType{Shape: &Shape{Dim: []Dimension{{}}}}), toShape},
		{"onnx.TensorShapeProto.Dimension.dim_value", dim(Dimension{HasValue: true}), toDim},
		{"onnx.TensorShapeProto.Dimension.dim_param", dim(Dimension{Param: "batch"}), toDim},
	}
	// lookup returns the number and wire type onnx.proto gives "msg.field".
	lookup := func(full string) (protowire.Number, protowire.Type) {
		i := strings.LastIndex(full, ".")
		f, ok := fn.Messages[full[:i]][full[i+1:]]
		if !ok {
			t.Fatalf("%s is not in field_numbers.json", full)
		}
		return protowire.Number(f.Number), protowire.Type(f.Wire)
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.field] = true
		b, err := c.m.Encode()
		if err != nil {
			t.Fatalf("%s: %v", c.field, err)
		}
		for _, step := range c.via {
			num, _ := lookup(step)
			fs := rawFields(t, b)
			if len(fs) != 1 || fs[0].num != num {
				t.Fatalf("%s: on the way through %s: got fields %+v", c.field, step, fs)
			}
			b = fs[0].body
		}
		num, wire := lookup(c.field)
		fs := rawFields(t, b)
		if len(fs) != 1 || fs[0].num != num || fs[0].typ != wire {
			t.Errorf("%s: encoded as %+v, want one field #%d of wire type %d", c.field, fs, num, wire)
		}
	}
	for msg, fields := range fn.Messages {
		for f := range fields {
			if !covered[msg+"."+f] {
				t.Errorf("field %s.%s is not covered by the test", msg, f)
			}
		}
	}
}

func TestEnumValues(t *testing.T) {
	fn := loadFieldNumbers(t)
	for name, v := range fn.DataType {
		if got := DataType(v).String(); got != name {
			t.Errorf("DataType(%d) = %s, onnx.proto says %s", v, got, name)
		}
	}
	for name, v := range fn.AttributeType {
		if got := AttributeType(v).String(); got != name {
			t.Errorf("AttributeType(%d) = %s, onnx.proto says %s", v, got, name)
		}
	}
	if fn.DataLocation["DEFAULT"] != int32(LocationDefault) || fn.DataLocation["EXTERNAL"] != int32(LocationExternal) {
		t.Errorf("DataLocation values %v disagree with onnx.proto", fn.DataLocation)
	}
}
