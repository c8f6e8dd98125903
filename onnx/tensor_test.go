package onnx

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/tensor"
)

// expectedTensor is an entry of testdata/tensors.json: the little-endian
// bytes numpy gives for a fixture tensor.
type expectedTensor struct {
	DType tensor.DType
	Shape []int
	Hex   string
}

func loadExpected(t *testing.T) map[string]expectedTensor {
	t.Helper()
	b, err := os.ReadFile("testdata/tensors.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]expectedTensor
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	return want
}

func checkTensor(t *testing.T, got *tensor.Tensor, want expectedTensor) {
	t.Helper()
	if got.DType != want.DType || !slices.Equal(got.Shape, want.Shape) || hex.EncodeToString(got.Data) != want.Hex {
		t.Errorf("got %s%v %x, want %s%v %s", got.DType, got.Shape, got.Data, want.DType, want.Shape, want.Hex)
	}
}

func TestToTensorFixtures(t *testing.T) {
	want := loadExpected(t)
	m := readModel(t, "testdata/features.onnx")
	seen := 0
	for _, init := range m.Graph.Initializer {
		w, ok := want[init.Name]
		if !ok {
			continue
		}
		seen++
		t.Run(init.Name, func(t *testing.T) {
			got, err := init.ToTensor()
			if err != nil {
				t.Fatal(err)
			}
			checkTensor(t, got, w)
		})
	}
	if seen < 20 {
		t.Errorf("only %d fixture tensors found", seen)
	}
}

func TestToTensorErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		t    *Tensor
		want string
	}{
		{"string", &Tensor{Name: "s", DataType: String, Dims: []int64{1}, StringData: [][]byte{{}}}, `tensor "s": data type STRING is not supported`},
		{"uint64", &Tensor{DataType: Uint64, Uint64Data: []uint64{1}}, "data type UINT64 is not supported"},
		{"external", &Tensor{DataType: Float, DataLocation: LocationExternal}, "external data is not loaded"},
		{"bad location", &Tensor{DataType: Float, DataLocation: 7}, "unknown data_location 7"},
		{"segment", &Tensor{DataType: Float, Segment: &Segment{}}, "segmented tensors are not supported"},
		{"negative dim", &Tensor{DataType: Float, Dims: []int64{2, -1}}, "invalid dims [2 -1]"},
		{"overflow", &Tensor{DataType: Float, Dims: []int64{1 << 40, 1 << 40}}, "too many elements"},
		{"short raw", &Tensor{DataType: Float, Dims: []int64{2}, RawData: make([]byte, 7)}, "F32[2] needs 8 bytes, have 7"},
		{"raw and typed", &Tensor{DataType: Float, Dims: []int64{1}, RawData: make([]byte, 4), FloatData: []float32{1}}, "data in float_data, but it belongs in raw_data"},
		{"wrong typed field", &Tensor{DataType: Int64, Dims: []int64{1}, Int32Data: []int32{1}}, "data in int32_data, but it belongs in int64_data"},
		{"missing values", &Tensor{DataType: Float, Dims: []int64{2, 2}, FloatData: []float32{1}}, "FLOAT [2 2]: float_data: has 1 values, want 4"},
		{"no data", &Tensor{DataType: Double, Dims: []int64{1}}, "double_data: has 0 values, want 1"},
		{"int8 range", &Tensor{DataType: Int8, Dims: []int64{2}, Int32Data: []int32{1, 200}}, "value 200 at index 1 is out of range"},
		{"float16 range", &Tensor{DataType: Float16, Dims: []int64{1}, Int32Data: []int32{-1}}, "value -1 at index 0 is out of range"},
		{"bool range", &Tensor{DataType: Bool, Dims: []int64{1}, Int32Data: []int32{2}}, "out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.t.ToTensor()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ToTensor error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestToTensorByteSizeOverflow guards a tensor whose element count fits in
// an int but whose byte count does not: the error must say it is too large,
// not report a wrapped-around byte count or a vague shape error.
func TestToTensorByteSizeOverflow(t *testing.T) {
	tn := &Tensor{Name: "w", DataType: Float, Dims: []int64{2147483649, 2147483647}, RawData: make([]byte, 8)}
	_, err := tn.ToTensor()
	if err == nil || !strings.Contains(err.Error(), `tensor "w": F32[2147483649 2147483647] is too large`) {
		t.Errorf("ToTensor error = %v, want it to say the tensor is too large", err)
	}
}

func TestTensorFromRaw(t *testing.T) {
	for _, in := range []*tensor.Tensor{
		tensor.FromFloat32([]int{2, 2}, []float32{1, -2, 3.5, 0}),
		tensor.FromInt64([]int{3}, []int64{-1, 0, 1 << 40}),
		{DType: tensor.BF16, Shape: []int{1}, Data: []byte{0x80, 0x3f}},
		{DType: tensor.Bool, Shape: []int{0, 3}},
	} {
		ot := TensorFromRaw("x", in)
		if ot.Name != "x" || ot.RawData == nil {
			t.Errorf("%s: TensorFromRaw = %+v", in.DType, ot)
		}
		out, err := ot.ToTensor()
		if err != nil {
			t.Fatalf("%s: %v", in.DType, err)
		}
		if out.DType != in.DType || !reflect.DeepEqual(out.Shape, in.Shape) || string(out.Data) != string(in.Data) {
			t.Errorf("%s: round trip gave %+v, want %+v", in.DType, out, in)
		}
	}
	if d := TensorFromRaw("x", &tensor.Tensor{DType: "X"}).DataType; d != Undefined {
		t.Errorf("unknown dtype maps to %s, want UNDEFINED", d)
	}
}
