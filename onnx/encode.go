package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Encode serializes m as a ModelProto. Fields are written in field-number
// order, as the reference protobuf implementation does; scalar fields are
// written when they are not zero (and an attribute's value field whenever
// its Type selects it), byte fields when they are not nil.
func (m *Model) Encode() ([]byte, error) {
	b, err := appendModel(nil, m)
	if err != nil {
		return nil, fmt.Errorf("onnx: encode: %w", err)
	}
	return b, nil
}

// appendMessage appends field num holding the message that enc appends. The
// message is written in place and then shifted right to make room for its
// length prefix, so that large tensors are not staged in scratch buffers.
func appendMessage(b []byte, num protowire.Number, enc func([]byte) ([]byte, error)) ([]byte, error) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	start := len(b)
	b, err := enc(b)
	if err != nil {
		return nil, err
	}
	n := len(b) - start
	var prefix [binary.MaxVarintLen64]byte
	p := protowire.AppendVarint(prefix[:0], uint64(n))
	b = append(b, p...)
	copy(b[start+len(p):], b[start:start+n])
	copy(b[start:], p)
	return b, nil
}

// appendSimple is appendMessage for encoders that cannot fail.
func appendSimple(b []byte, num protowire.Number, enc func([]byte) []byte) []byte {
	b, _ = appendMessage(b, num, func(b []byte) ([]byte, error) { return enc(b), nil })
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendBytes writes a bytes field unless v is nil (absent).
func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if v == nil {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// appendVarint writes a varint field; int32 values must be sign-extended
// to 64 bits by the caller (uint64(int64(v))), as protobuf requires.
func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// appendPacked writes a packed repeated field whose elements enc appends.
func appendPacked[T any](b []byte, num protowire.Number, v []T, enc func([]byte, T) []byte) []byte {
	if len(v) == 0 {
		return b
	}
	return appendSimple(b, num, func(b []byte) []byte {
		for _, x := range v {
			b = enc(b, x)
		}
		return b
	})
}

func appendEntries(b []byte, num protowire.Number, es []StringStringEntry) []byte {
	for _, e := range es {
		b = appendSimple(b, num, func(b []byte) []byte {
			b = appendString(b, 1, e.Key)
			return appendString(b, 2, e.Value)
		})
	}
	return b
}

func appendModel(b []byte, m *Model) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("nil model")
	}
	b = appendVarint(b, 1, uint64(m.IRVersion))
	b = appendString(b, 2, m.ProducerName)
	b = appendString(b, 3, m.ProducerVersion)
	b = appendString(b, 4, m.Domain)
	b = appendVarint(b, 5, uint64(m.ModelVersion))
	b = appendString(b, 6, m.DocString)
	if m.Graph != nil {
		var err error
		if b, err = appendMessage(b, 7, func(b []byte) ([]byte, error) { return appendGraph(b, m.Graph, 0) }); err != nil {
			return nil, err
		}
	}
	for _, o := range m.OpsetImport {
		b = appendSimple(b, 8, func(b []byte) []byte {
			b = appendString(b, 1, o.Domain)
			return appendVarint(b, 2, uint64(o.Version))
		})
	}
	return appendEntries(b, 14, m.MetadataProps), nil
}

func appendGraph(b []byte, g *Graph, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	var err error
	for i, n := range g.Node {
		if n == nil {
			return nil, fmt.Errorf("GraphProto %q: node[%d] is nil", g.Name, i)
		}
		if b, err = appendMessage(b, 1, func(b []byte) ([]byte, error) { return appendNode(b, n, depth) }); err != nil {
			return nil, err
		}
	}
	b = appendString(b, 2, g.Name)
	for i, t := range g.Initializer {
		if t == nil {
			return nil, fmt.Errorf("GraphProto %q: initializer[%d] is nil", g.Name, i)
		}
		b = appendSimple(b, 5, func(b []byte) []byte { return appendTensor(b, t) })
	}
	b = appendString(b, 10, g.DocString)
	for _, vs := range []struct {
		num  protowire.Number
		name string
		v    []*ValueInfo
	}{{11, "input", g.Input}, {12, "output", g.Output}, {13, "value_info", g.ValueInfo}} {
		for i, v := range vs.v {
			if v == nil {
				return nil, fmt.Errorf("GraphProto %q: %s[%d] is nil", g.Name, vs.name, i)
			}
			b = appendSimple(b, vs.num, func(b []byte) []byte { return appendValueInfo(b, v) })
		}
	}
	return b, nil
}

func appendNode(b []byte, n *Node, depth int) ([]byte, error) {
	for _, s := range n.Input {
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	for _, s := range n.Output {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	b = appendString(b, 3, n.Name)
	b = appendString(b, 4, n.OpType)
	for i, a := range n.Attribute {
		if a == nil {
			return nil, fmt.Errorf("NodeProto %q: attribute[%d] is nil", n.Name, i)
		}
		var err error
		if b, err = appendMessage(b, 5, func(b []byte) ([]byte, error) { return appendAttribute(b, a, depth) }); err != nil {
			return nil, err
		}
	}
	b = appendString(b, 6, n.DocString)
	return appendString(b, 7, n.Domain), nil
}

func appendAttribute(b []byte, a *Attribute, depth int) ([]byte, error) {
	b = appendString(b, 1, a.Name)
	if a.Type == AttributeFloat || math.Float32bits(a.F) != 0 {
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	}
	if a.Type == AttributeInt || a.I != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.I))
	}
	b = appendBytes(b, 4, a.S)
	if a.T != nil {
		b = appendSimple(b, 5, func(b []byte) []byte { return appendTensor(b, a.T) })
	}
	var err error
	if a.G != nil {
		if b, err = appendMessage(b, 6, func(b []byte) ([]byte, error) { return appendGraph(b, a.G, depth+1) }); err != nil {
			return nil, err
		}
	}
	// floats and ints are not declared packed in onnx.proto.
	for _, f := range a.Floats {
		b = protowire.AppendTag(b, 7, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(f))
	}
	for _, v := range a.Ints {
		b = protowire.AppendTag(b, 8, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(v))
	}
	for _, s := range a.Strings {
		b = protowire.AppendTag(b, 9, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	for i, t := range a.Tensors {
		if t == nil {
			return nil, fmt.Errorf("AttributeProto %q: tensors[%d] is nil", a.Name, i)
		}
		b = appendSimple(b, 10, func(b []byte) []byte { return appendTensor(b, t) })
	}
	for i, g := range a.Graphs {
		if g == nil {
			return nil, fmt.Errorf("AttributeProto %q: graphs[%d] is nil", a.Name, i)
		}
		if b, err = appendMessage(b, 11, func(b []byte) ([]byte, error) { return appendGraph(b, g, depth+1) }); err != nil {
			return nil, err
		}
	}
	return appendVarint(b, 20, uint64(int64(a.Type))), nil
}

func appendTensor(b []byte, t *Tensor) []byte {
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = appendVarint(b, 2, uint64(int64(t.DataType)))
	if s := t.Segment; s != nil {
		b = appendSimple(b, 3, func(b []byte) []byte {
			b = appendVarint(b, 1, uint64(s.Begin))
			return appendVarint(b, 2, uint64(s.End))
		})
	}
	b = appendPacked(b, 4, t.FloatData, func(b []byte, f float32) []byte {
		return protowire.AppendFixed32(b, math.Float32bits(f))
	})
	b = appendPacked(b, 5, t.Int32Data, func(b []byte, v int32) []byte {
		return protowire.AppendVarint(b, uint64(int64(v)))
	})
	for _, s := range t.StringData {
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	b = appendPacked(b, 7, t.Int64Data, func(b []byte, v int64) []byte {
		return protowire.AppendVarint(b, uint64(v))
	})
	b = appendString(b, 8, t.Name)
	b = appendBytes(b, 9, t.RawData)
	b = appendPacked(b, 10, t.DoubleData, func(b []byte, f float64) []byte {
		return protowire.AppendFixed64(b, math.Float64bits(f))
	})
	b = appendPacked(b, 11, t.Uint64Data, protowire.AppendVarint)
	b = appendEntries(b, 13, t.ExternalData)
	return appendVarint(b, 14, uint64(int64(t.DataLocation)))
}

func appendValueInfo(b []byte, v *ValueInfo) []byte {
	b = appendString(b, 1, v.Name)
	if v.Type != nil {
		b = appendSimple(b, 2, func(b []byte) []byte { return appendType(b, v.Type) })
	}
	return appendString(b, 3, v.DocString)
}

func appendType(b []byte, t *Type) []byte {
	tt := t.Tensor
	if tt == nil {
		return b
	}
	return appendSimple(b, 1, func(b []byte) []byte {
		b = appendVarint(b, 1, uint64(int64(tt.ElemType)))
		if tt.Shape == nil {
			return b
		}
		return appendSimple(b, 2, func(b []byte) []byte {
			for _, d := range tt.Shape.Dim {
				b = appendSimple(b, 1, func(b []byte) []byte {
					switch {
					case d.HasValue:
						b = protowire.AppendTag(b, 1, protowire.VarintType)
						b = protowire.AppendVarint(b, uint64(d.Value))
					case d.Param != "":
						b = appendString(b, 2, d.Param)
					}
					return b
				})
			}
			return b
		})
	})
}
