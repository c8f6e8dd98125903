package safetensors

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/tensor"
)

func TestReadOracleFile(t *testing.T) {
	f, err := ReadFile("testdata/oracle.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if f.Header.Metadata["note"] != "hiertune fixture" {
		t.Errorf("metadata %v", f.Header.Metadata)
	}
	want := []float32{1.5, -2.25, 3.0, 0.0, 1e-3, -65504.0}
	for _, name := range []string{"f32", "f16", "bf16", "f64"} {
		tt, ok := f.Tensor(name)
		if !ok {
			t.Fatalf("missing %s", name)
		}
		got, err := tt.Float32()
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			tol := float32(0)
			switch name {
			case "f16":
				tol = 1e-6 // 1e-3 is not exact in half precision
			case "bf16":
				tol = 512 // -65504 rounds to -65536
			}
			if d := got[i] - want[i]; d > tol || d < -tol {
				t.Errorf("%s[%d] = %g, want %g", name, i, got[i], want[i])
			}
		}
		if len(tt.Shape) != 2 || tt.Shape[0] != 2 || tt.Shape[1] != 3 {
			t.Errorf("%s shape %v", name, tt.Shape)
		}
	}
	i64, _ := f.Tensor("i64")
	if v, err := i64.Int64(); err != nil || v[2] != 1<<40 || v[0] != -1 {
		t.Errorf("i64 = %v, %v", v, err)
	}
	if s, _ := f.Tensor("scalar"); len(s.Shape) != 0 || s.NumElements() != 1 {
		t.Errorf("scalar shape %v", s.Shape)
	}
	if e, _ := f.Tensor("empty"); e.NumElements() != 0 {
		t.Errorf("empty has %d elements", e.NumElements())
	}
}

func TestRoundTrip(t *testing.T) {
	in := map[string]*tensor.Tensor{
		"b.weight": tensor.FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4}),
		"a.ids":    tensor.FromInt64([]int{3}, []int64{5, 6, 7}),
		"s":        tensor.FromFloat32(nil, []float32{9}),
	}
	p := filepath.Join(t.TempDir(), "x.safetensors")
	if err := WriteFile(p, in, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	if n := binary.LittleEndian.Uint64(raw); n%8 != 0 {
		t.Errorf("header length %d not padded to 8", n)
	}
	f, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Names(), ","); got != "a.ids,b.weight,s" {
		t.Errorf("names in data order: %s", got)
	}
	for name, want := range in {
		got, _ := f.Tensor(name)
		if got.DType != want.DType || !bytes.Equal(got.Data, want.Data) || len(got.Shape) != len(want.Shape) {
			t.Errorf("%s: got %+v, want %+v", name, got, want)
		}
	}
}

// file builds a safetensors file from a header and a data region.
func file(header string, data int) []byte {
	b := make([]byte, 8, 8+len(header)+data)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

func TestBadFiles(t *testing.T) {
	good := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]}}`
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "too short"},
		{"huge header length", func() []byte { b := file(good, 12); binary.LittleEndian.PutUint64(b, 1<<40); return b }(), "exceeds"},
		{"header past end", func() []byte { b := file(good, 12); binary.LittleEndian.PutUint64(b, uint64(len(good)+20)); return b }(), "runs past the end"},
		{"truncated data", file(good, 10), `"b": data_offsets [8, 12] run past the end`},
		{"trailing bytes", file(good, 16), "cover 12 bytes but the data region has 16"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[2],"data_offsets":[6,10]}}`, 10), "overlap"},
		{"gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[2],"data_offsets":[8,12]}}`, 12), "gap"},
		{"wrong size", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), `"a": F32[3] needs 12 bytes`},
		{"unknown dtype", file(`{"a":{"dtype":"F8","shape":[1],"data_offsets":[0,1]}}`, 1), `unknown dtype "F8"`},
		{"negative shape", file(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, 1), "invalid shape"},
		{"reversed offsets", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, 4), "invalid data_offsets"},
		{"missing field", file(`{"a":{"dtype":"U8","shape":[1]}}`, 1), "required"},
		{"unknown field", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, 1), "unknown field"},
		{"not json", file(`{"a":`, 0), "not valid JSON"},
		{"not an object", file(`[1,2]   `, 0), "not a JSON object"},
		{"bad metadata", file(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
		{"bad utf8", file("{\"\xff\":1}", 0), "UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(c.b), int64(len(c.b)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	if _, err := Read(bytes.NewReader(file(good, 12)), int64(len(good)+20)); err != nil {
		t.Fatalf("the good file was rejected: %v", err)
	}
}

// TestSizeOverflowIsReported guards the byte count of a tensor whose shape
// is too large: it used to wrap around and be reported as "needs -4 bytes".
func TestSizeOverflowIsReported(t *testing.T) {
	for _, shape := range []string{"[2147483649,2147483647]", "[1099511627776,1099511627776]", "[1099511627776,4194304]"} {
		b := file(`{"a":{"dtype":"F32","shape":`+shape+`,"data_offsets":[0,8]}}`, 8)
		_, err := Read(bytes.NewReader(b), int64(len(b)))
		if err == nil || !strings.Contains(err.Error(), `tensor "a": F32`) || !strings.Contains(err.Error(), "is too large") || strings.Contains(err.Error(), "needs") {
			t.Errorf("shape %s: error %v, want it to say the tensor is too large", shape, err)
		}
	}
}

func TestReadFileNamesPath(t *testing.T) {
	p := filepath.Join(t.TempDir(), "model.safetensors")
	os.WriteFile(p, file(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 3), 0o644)
	_, err := ReadFile(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("error %v should name the file and the tensor", err)
	}
}

func FuzzRead(f *testing.F) {
	seed, _ := os.ReadFile("testdata/oracle.safetensors")
	f.Add(seed)
	f.Add(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8))
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Read(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		// Whatever was accepted must be internally consistent.
		for name, tt := range file.Tensors() {
			if _, err := tensor.New(tt.DType, tt.Shape, tt.Data); err != nil {
				t.Fatalf("accepted tensor %q is inconsistent: %v", name, err)
			}
		}
		if _, err := Encode(file.Tensors(), file.Header.Metadata); err != nil {
			t.Fatalf("re-encoding an accepted file failed: %v", err)
		}
	})
}
