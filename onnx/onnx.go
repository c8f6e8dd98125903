// Package onnx reads and writes ONNX model files without generated code.
//
// It covers the part of onnx.proto (IR versions up to 10) that a BERT
// exporter and importer need: models, graphs, nodes, attributes, tensors
// (including external data), value infos with tensor types, and the small
// helper messages. Fields outside that subset are skipped when decoding and
// are therefore not written back by Encode.
//
// The structs mirror the protobuf messages field by field, with the proto
// field names in Go spelling, so the ONNX specification documents them.
package onnx

import "fmt"

// Model is an ONNX ModelProto.
type Model struct {
	IRVersion       int64
	OpsetImport     []OperatorSetID
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Graph           *Graph
	MetadataProps   []StringStringEntry
}

// OperatorSetID is an OperatorSetIdProto: an operator set the model uses.
// The empty domain is the default "ai.onnx" domain.
type OperatorSetID struct {
	Domain  string
	Version int64
}

// StringStringEntry is a StringStringEntryProto, a key/value pair.
type StringStringEntry struct {
	Key, Value string
}

// Graph is a GraphProto: nodes in topological order plus the named values
// they read and write.
type Graph struct {
	Node        []*Node
	Name        string
	Initializer []*Tensor
	DocString   string
	Input       []*ValueInfo
	Output      []*ValueInfo
	ValueInfo   []*ValueInfo
}

// Node is a NodeProto, one operator application. An empty input name marks
// an omitted optional input.
type Node struct {
	Input     []string
	Output    []string
	Name      string
	OpType    string
	Domain    string
	Attribute []*Attribute
	DocString string
}

// Attr returns the node's attribute called name, or nil if it has none.
func (n *Node) Attr(name string) *Attribute {
	for _, a := range n.Attribute {
		if a != nil && a.Name == name {
			return a
		}
	}
	return nil
}

// AttributeType is AttributeProto.AttributeType: which value field of an
// Attribute is meaningful.
type AttributeType int32

// The attribute types of onnx.proto.
const (
	AttributeUndefined     AttributeType = 0
	AttributeFloat         AttributeType = 1
	AttributeInt           AttributeType = 2
	AttributeString        AttributeType = 3
	AttributeTensor        AttributeType = 4
	AttributeGraph         AttributeType = 5
	AttributeFloats        AttributeType = 6
	AttributeInts          AttributeType = 7
	AttributeStrings       AttributeType = 8
	AttributeTensors       AttributeType = 9
	AttributeGraphs        AttributeType = 10
	AttributeSparseTensor  AttributeType = 11
	AttributeSparseTensors AttributeType = 12
	AttributeTypeProto     AttributeType = 13
	AttributeTypeProtos    AttributeType = 14
)

var attributeTypeNames = map[AttributeType]string{
	AttributeUndefined: "UNDEFINED", AttributeFloat: "FLOAT", AttributeInt: "INT",
	AttributeString: "STRING", AttributeTensor: "TENSOR", AttributeGraph: "GRAPH",
	AttributeFloats: "FLOATS", AttributeInts: "INTS", AttributeStrings: "STRINGS",
	AttributeTensors: "TENSORS", AttributeGraphs: "GRAPHS", AttributeSparseTensor: "SPARSE_TENSOR",
	AttributeSparseTensors: "SPARSE_TENSORS", AttributeTypeProto: "TYPE_PROTO", AttributeTypeProtos: "TYPE_PROTOS",
}

// String returns the onnx.proto name of t, such as "INTS".
func (t AttributeType) String() string {
	if s, ok := attributeTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("AttributeType(%d)", int32(t))
}

// Attribute is an AttributeProto. Type says which of the value fields holds
// the attribute's value.
type Attribute struct {
	Name    string
	Type    AttributeType
	F       float32
	I       int64
	S       []byte
	T       *Tensor
	G       *Graph
	Floats  []float32
	Ints    []int64
	Strings [][]byte
	Tensors []*Tensor
	Graphs  []*Graph
}

// DataType is TensorProto.DataType, the element type of a tensor.
type DataType int32

// The element types of onnx.proto up to IR version 10.
const (
	Undefined      DataType = 0
	Float          DataType = 1
	Uint8          DataType = 2
	Int8           DataType = 3
	Uint16         DataType = 4
	Int16          DataType = 5
	Int32          DataType = 6
	Int64          DataType = 7
	String         DataType = 8
	Bool           DataType = 9
	Float16        DataType = 10
	Double         DataType = 11
	Uint32         DataType = 12
	Uint64         DataType = 13
	Complex64      DataType = 14
	Complex128     DataType = 15
	BFloat16       DataType = 16
	Float8E4M3FN   DataType = 17
	Float8E4M3FNUZ DataType = 18
	Float8E5M2     DataType = 19
	Float8E5M2FNUZ DataType = 20
	Uint4          DataType = 21
	Int4           DataType = 22
)

var dataTypeNames = map[DataType]string{
	Undefined: "UNDEFINED", Float: "FLOAT", Uint8: "UINT8", Int8: "INT8", Uint16: "UINT16",
	Int16: "INT16", Int32: "INT32", Int64: "INT64", String: "STRING", Bool: "BOOL",
	Float16: "FLOAT16", Double: "DOUBLE", Uint32: "UINT32", Uint64: "UINT64",
	Complex64: "COMPLEX64", Complex128: "COMPLEX128", BFloat16: "BFLOAT16",
	Float8E4M3FN: "FLOAT8E4M3FN", Float8E4M3FNUZ: "FLOAT8E4M3FNUZ", Float8E5M2: "FLOAT8E5M2",
	Float8E5M2FNUZ: "FLOAT8E5M2FNUZ", Uint4: "UINT4", Int4: "INT4",
}

// String returns the onnx.proto name of d, such as "FLOAT16".
func (d DataType) String() string {
	if s, ok := dataTypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("DataType(%d)", int32(d))
}

// DataLocation is TensorProto.DataLocation: where a tensor's bytes live.
type DataLocation int32

// The data locations of onnx.proto.
const (
	LocationDefault  DataLocation = 0 // in the tensor itself
	LocationExternal DataLocation = 1 // in a file named by ExternalData
)

// Tensor is a TensorProto. Its elements are in RawData (little-endian) or in
// the typed field onnx.proto assigns to DataType (FloatData for FLOAT,
// Int32Data for the small integer types, FLOAT16 and BFLOAT16, and so on), or
// in an external file when DataLocation is LocationExternal.
type Tensor struct {
	Dims         []int64
	DataType     DataType
	Segment      *Segment
	FloatData    []float32
	Int32Data    []int32
	StringData   [][]byte
	Int64Data    []int64
	Name         string
	RawData      []byte // nil when the field is absent
	DoubleData   []float64
	Uint64Data   []uint64
	DataLocation DataLocation
	ExternalData []StringStringEntry
}

// Segment is TensorProto.Segment: the slice of a large tensor that this
// TensorProto holds.
type Segment struct {
	Begin, End int64
}

// ValueInfo is a ValueInfoProto: a named value with its type.
type ValueInfo struct {
	Name      string
	Type      *Type
	DocString string
}

// Type is a TypeProto. Only tensor types are modelled; other kinds decode
// to a Type with a nil Tensor.
type Type struct {
	Tensor *TensorType
}

// TensorType is TypeProto.Tensor: element type and (optional) shape.
type TensorType struct {
	ElemType DataType
	Shape    *Shape // nil when the rank is unknown
}

// Shape is a TensorShapeProto.
type Shape struct {
	Dim []Dimension
}

// Dimension is TensorShapeProto.Dimension: a fixed size (HasValue), a
// symbolic name (Param), or neither when the size is unknown.
type Dimension struct {
	Value    int64
	HasValue bool
	Param    string
}
