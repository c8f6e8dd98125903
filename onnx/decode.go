package onnx

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// maxDepth bounds the nesting of graphs inside attributes (If and Loop
// bodies) so that hostile input cannot exhaust the stack.
const maxDepth = 64

var errTooDeep = fmt.Errorf("graphs nested more than %d deep", maxDepth)

// wrapf prefixes err with the location of a failure. The nesting error is
// passed through as is, so that its message does not grow with every level.
func wrapf(err error, format string, args ...any) error {
	if err == nil || err == errTooDeep {
		return err
	}
	return fmt.Errorf(format+"%w", append(args, err)...)
}

// Decode parses a serialized ModelProto. Unknown fields are skipped; packed
// and unpacked repeated scalars are both accepted. Malformed input gives an
// error that names the message path and field, as in
// "ModelProto.graph: GraphProto.node[3]: NodeProto.name: wire type varint,
// want bytes". The byte slices of the result (RawData, S, Strings,
// StringData) alias b.
func Decode(b []byte) (*Model, error) {
	m, err := decodeModel(b)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return m, nil
}

// field is one field of an encoded message: its number, wire type and value
// (u for the varint and fixed wire types, b for length-delimited ones).
type field struct {
	num protowire.Number
	typ protowire.Type
	u   uint64
	b   []byte
}

// eachField calls fn for every field of the message encoded in b.
func eachField(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("field tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.u = uint64(v)
		case protowire.Fixed64Type:
			f.u, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default: // groups are obsolete and never used by onnx.proto
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field #%d: %w", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

var wireNames = map[protowire.Type]string{
	protowire.VarintType: "varint", protowire.Fixed32Type: "fixed32", protowire.Fixed64Type: "fixed64",
	protowire.BytesType: "bytes", protowire.StartGroupType: "group", protowire.EndGroupType: "end-group",
}

// want checks that f has wire type t.
func (f field) want(name string, t protowire.Type) error {
	if f.typ != t {
		return fmt.Errorf("%s: wire type %s, want %s", name, wireNames[f.typ], wireNames[t])
	}
	return nil
}

func (f field) bytes(name string) ([]byte, error) {
	if err := f.want(name, protowire.BytesType); err != nil {
		return nil, err
	}
	return f.b, nil
}

func (f field) string(name string, dst *string) error {
	b, err := f.bytes(name)
	*dst = string(b)
	return err
}

func (f field) varint(name string) (uint64, error) {
	return f.u, f.want(name, protowire.VarintType)
}

func (f field) int64(name string, dst *int64) error {
	v, err := f.varint(name)
	*dst = int64(v)
	return err
}

// int32 decodes an int32 or enum field; protobuf sign-extends negative
// values to 64 bits, so truncation recovers them.
func (f field) int32(name string, dst *int32) error {
	v, err := f.varint(name)
	*dst = int32(v)
	return err
}

// appendVarints appends the values of a repeated varint field, packed or
// not, to dst.
func appendVarints[T ~int32 | ~int64 | ~uint64](f field, name string, dst []T) ([]T, error) {
	switch f.typ {
	case protowire.VarintType:
		return append(dst, T(f.u)), nil
	case protowire.BytesType:
		for b := f.b; len(b) > 0; {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return dst, fmt.Errorf("%s: packed varint: %w", name, protowire.ParseError(n))
			}
			dst = append(dst, T(v))
			b = b[n:]
		}
		return dst, nil
	}
	return dst, fmt.Errorf("%s: wire type %s, want varint or packed bytes", name, wireNames[f.typ])
}

// appendFloats appends the values of a repeated float field, packed or not.
func appendFloats(f field, name string, dst []float32) ([]float32, error) {
	switch f.typ {
	case protowire.Fixed32Type:
		return append(dst, math.Float32frombits(uint32(f.u))), nil
	case protowire.BytesType:
		if len(f.b)%4 != 0 {
			return dst, fmt.Errorf("%s: packed length %d is not a multiple of 4", name, len(f.b))
		}
		for b := f.b; len(b) > 0; b = b[4:] {
			v, _ := protowire.ConsumeFixed32(b)
			dst = append(dst, math.Float32frombits(v))
		}
		return dst, nil
	}
	return dst, fmt.Errorf("%s: wire type %s, want fixed32 or packed bytes", name, wireNames[f.typ])
}

// appendDoubles appends the values of a repeated double field, packed or not.
func appendDoubles(f field, name string, dst []float64) ([]float64, error) {
	switch f.typ {
	case protowire.Fixed64Type:
		return append(dst, math.Float64frombits(f.u)), nil
	case protowire.BytesType:
		if len(f.b)%8 != 0 {
			return dst, fmt.Errorf("%s: packed length %d is not a multiple of 8", name, len(f.b))
		}
		for b := f.b; len(b) > 0; b = b[8:] {
			v, _ := protowire.ConsumeFixed64(b)
			dst = append(dst, math.Float64frombits(v))
		}
		return dst, nil
	}
	return dst, fmt.Errorf("%s: wire type %s, want fixed64 or packed bytes", name, wireNames[f.typ])
}

// decodeMessage decodes the embedded message in f with dec and appends it
// to *dst, naming the element by its index in errors.
func decodeMessage[T any](f field, name string, dst *[]T, dec func([]byte) (T, error)) error {
	b, err := f.bytes(name)
	if err != nil {
		return err
	}
	v, err := dec(b)
	if err != nil {
		return wrapf(err, "%s[%d]: ", name, len(*dst))
	}
	*dst = append(*dst, v)
	return nil
}

func decodeModel(b []byte) (*Model, error) {
	m := &Model{}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.int64("ir_version", &m.IRVersion)
		case 2:
			return f.string("producer_name", &m.ProducerName)
		case 3:
			return f.string("producer_version", &m.ProducerVersion)
		case 4:
			return f.string("domain", &m.Domain)
		case 5:
			return f.int64("model_version", &m.ModelVersion)
		case 6:
			return f.string("doc_string", &m.DocString)
		case 7:
			g, err := f.bytes("graph")
			if err != nil {
				return err
			}
			m.Graph, err = decodeGraph(g, 0)
			return wrapf(err, "graph: ")
		case 8:
			return decodeMessage(f, "opset_import", &m.OpsetImport, decodeOpset)
		case 14:
			return decodeMessage(f, "metadata_props", &m.MetadataProps, decodeEntry)
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "ModelProto.")
	}
	return m, nil
}

func decodeOpset(b []byte) (OperatorSetID, error) {
	var o OperatorSetID
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string("domain", &o.Domain)
		case 2:
			return f.int64("version", &o.Version)
		}
		return nil
	})
	if err != nil {
		return o, wrapf(err, "OperatorSetIdProto.")
	}
	return o, nil
}

func decodeEntry(b []byte) (StringStringEntry, error) {
	var e StringStringEntry
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string("key", &e.Key)
		case 2:
			return f.string("value", &e.Value)
		}
		return nil
	})
	if err != nil {
		return e, wrapf(err, "StringStringEntryProto.")
	}
	return e, nil
}

func decodeGraph(b []byte, depth int) (*Graph, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	g := &Graph{}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return decodeMessage(f, "node", &g.Node, func(b []byte) (*Node, error) { return decodeNode(b, depth) })
		case 2:
			return f.string("name", &g.Name)
		case 5:
			return decodeMessage(f, "initializer", &g.Initializer, decodeTensor)
		case 10:
			return f.string("doc_string", &g.DocString)
		case 11:
			return decodeMessage(f, "input", &g.Input, decodeValueInfo)
		case 12:
			return decodeMessage(f, "output", &g.Output, decodeValueInfo)
		case 13:
			return decodeMessage(f, "value_info", &g.ValueInfo, decodeValueInfo)
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "GraphProto.")
	}
	return g, nil
}

func decodeNode(b []byte, depth int) (*Node, error) {
	n := &Node{}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			s, err := f.bytes("input")
			n.Input = append(n.Input, string(s))
			return err
		case 2:
			s, err := f.bytes("output")
			n.Output = append(n.Output, string(s))
			return err
		case 3:
			return f.string("name", &n.Name)
		case 4:
			return f.string("op_type", &n.OpType)
		case 5:
			return decodeMessage(f, "attribute", &n.Attribute, func(b []byte) (*Attribute, error) { return decodeAttribute(b, depth) })
		case 6:
			return f.string("doc_string", &n.DocString)
		case 7:
			return f.string("domain", &n.Domain)
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "NodeProto.")
	}
	return n, nil
}

func decodeAttribute(b []byte, depth int) (*Attribute, error) {
	a := &Attribute{}
	subgraph := func(b []byte) (*Graph, error) { return decodeGraph(b, depth+1) }
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			return f.string("name", &a.Name)
		case 20:
			return f.int32("type", (*int32)(&a.Type))
		case 2:
			if err = f.want("f", protowire.Fixed32Type); err == nil {
				a.F = math.Float32frombits(uint32(f.u))
			}
		case 3:
			return f.int64("i", &a.I)
		case 4:
			a.S, err = f.bytes("s")
		case 5:
			var t []byte
			if t, err = f.bytes("t"); err == nil {
				if a.T, err = decodeTensor(t); err != nil {
					err = fmt.Errorf("t: %w", err)
				}
			}
		case 6:
			var g []byte
			if g, err = f.bytes("g"); err == nil {
				a.G, err = subgraph(g)
				err = wrapf(err, "g: ")
			}
		case 7:
			a.Floats, err = appendFloats(f, "floats", a.Floats)
		case 8:
			a.Ints, err = appendVarints(f, "ints", a.Ints)
		case 9:
			var s []byte
			s, err = f.bytes("strings")
			a.Strings = append(a.Strings, s)
		case 10:
			err = decodeMessage(f, "tensors", &a.Tensors, decodeTensor)
		case 11:
			err = decodeMessage(f, "graphs", &a.Graphs, subgraph)
		}
		return err
	})
	if err != nil {
		return nil, wrapf(err, "AttributeProto.")
	}
	return a, nil
}

func decodeTensor(b []byte) (*Tensor, error) {
	t := &Tensor{}
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			t.Dims, err = appendVarints(f, "dims", t.Dims)
		case 2:
			return f.int32("data_type", (*int32)(&t.DataType))
		case 3:
			var s []byte
			if s, err = f.bytes("segment"); err == nil {
				if t.Segment, err = decodeSegment(s); err != nil {
					err = fmt.Errorf("segment: %w", err)
				}
			}
		case 4:
			t.FloatData, err = appendFloats(f, "float_data", t.FloatData)
		case 5:
			t.Int32Data, err = appendVarints(f, "int32_data", t.Int32Data)
		case 6:
			var s []byte
			s, err = f.bytes("string_data")
			t.StringData = append(t.StringData, s)
		case 7:
			t.Int64Data, err = appendVarints(f, "int64_data", t.Int64Data)
		case 8:
			return f.string("name", &t.Name)
		case 9:
			t.RawData, err = f.bytes("raw_data")
		case 10:
			t.DoubleData, err = appendDoubles(f, "double_data", t.DoubleData)
		case 11:
			t.Uint64Data, err = appendVarints(f, "uint64_data", t.Uint64Data)
		case 13:
			err = decodeMessage(f, "external_data", &t.ExternalData, decodeEntry)
		case 14:
			return f.int32("data_location", (*int32)(&t.DataLocation))
		}
		return err
	})
	if err != nil {
		return nil, wrapf(err, "TensorProto.")
	}
	return t, nil
}

func decodeSegment(b []byte) (*Segment, error) {
	s := &Segment{}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.int64("begin", &s.Begin)
		case 2:
			return f.int64("end", &s.End)
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "Segment.")
	}
	return s, nil
}

func decodeValueInfo(b []byte) (*ValueInfo, error) {
	v := &ValueInfo{}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.string("name", &v.Name)
		case 2:
			t, err := f.bytes("type")
			if err != nil {
				return err
			}
			if v.Type, err = decodeType(t); err != nil {
				return fmt.Errorf("type: %w", err)
			}
		case 3:
			return f.string("doc_string", &v.DocString)
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "ValueInfoProto.")
	}
	return v, nil
}

func decodeType(b []byte) (*Type, error) {
	t := &Type{}
	err := eachField(b, func(f field) error {
		if f.num != 1 {
			return nil
		}
		tt, err := f.bytes("tensor_type")
		if err != nil {
			return err
		}
		if t.Tensor, err = decodeTensorType(tt); err != nil {
			return fmt.Errorf("tensor_type: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "TypeProto.")
	}
	return t, nil
}

func decodeTensorType(b []byte) (*TensorType, error) {
	t := &TensorType{}
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			return f.int32("elem_type", (*int32)(&t.ElemType))
		case 2:
			s, err := f.bytes("shape")
			if err != nil {
				return err
			}
			if t.Shape, err = decodeShape(s); err != nil {
				return fmt.Errorf("shape: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrapf(err, "TypeProto.Tensor.")
	}
	return t, nil
}

func decodeShape(b []byte) (*Shape, error) {
	s := &Shape{}
	err := eachField(b, func(f field) error {
		if f.num != 1 {
			return nil
		}
		return decodeMessage(f, "dim", &s.Dim, decodeDimension)
	})
	if err != nil {
		return nil, wrapf(err, "TensorShapeProto.")
	}
	return s, nil
}

// decodeDimension decodes the dim_value / dim_param oneof; as in protobuf,
// the last member seen wins.
func decodeDimension(b []byte) (Dimension, error) {
	var d Dimension
	err := eachField(b, func(f field) error {
		switch f.num {
		case 1:
			d = Dimension{HasValue: true}
			return f.int64("dim_value", &d.Value)
		case 2:
			d = Dimension{}
			return f.string("dim_param", &d.Param)
		}
		return nil
	})
	if err != nil {
		return d, wrapf(err, "Dimension.")
	}
	return d, nil
}
