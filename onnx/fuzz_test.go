package onnx

import (
	"bytes"
	"os"
	"testing"
)

// FuzzDecode checks that Decode never panics, that whatever it accepts can
// be encoded again, and that encoding is stable: Encode(Decode(Encode(m)))
// equals Encode(m) byte for byte (bytes rather than DeepEqual, which NaN
// attributes would defeat).
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"testdata/features.onnx", "testdata/external.onnx"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x3a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := m.Encode()
		if err != nil {
			t.Fatalf("Encode of a decoded model: %v", err)
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode of an encoded model: %v", err)
		}
		enc2, err := m2.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%x\n%x", enc, enc2)
		}
		if m.Graph != nil {
			for _, init := range m.Graph.Initializer {
				init.ToTensor() // must not panic; errors are expected
			}
		}
	})
}
