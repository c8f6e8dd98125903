package pytorch

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtures returns the bytes of every checkpoint in testdata.
func fixtures(f *testing.F) [][]byte {
	paths, err := filepath.Glob("testdata/*.pt")
	if err != nil || len(paths) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	var out [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzUnpickle runs arbitrary bytes as a data.pkl, then turns whatever they
// build into tensors over 64-byte storage records. It must never panic, and
// allocates at most in proportion to the input.
func FuzzUnpickle(f *testing.F) {
	for _, b := range fixtures(f) {
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			continue // a legacy file
		}
		for _, e := range zr.File {
			if strings.HasSuffix(e.Name, "/data.pkl") {
				rc, err := e.Open()
				if err != nil {
					f.Fatal(err)
				}
				pkl, err := io.ReadAll(rc)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(pkl)
			}
		}
	}
	f.Add(stateDictPickle(view{"w", "HalfStorage", "0", 32, 1, []int64{3, 5}, []int64{1, 3}}))
	f.Fuzz(func(t *testing.T, pkl []byte) {
		obj, _, err := unpickle(bytes.NewReader(pkl), int64(len(pkl)), loadStorage)
		if err != nil {
			return
		}
		refs, err := stateDict(obj)
		if err != nil {
			return
		}
		ts, _ := materialise(refs, func(string) ([]byte, error) { return make([]byte, 64), nil }, 1<<20)
		for name, x := range ts {
			if len(x.Data) > 64 {
				t.Fatalf("tensor %q has %d bytes from a 64-byte record", name, len(x.Data))
			}
		}
	})
}

// FuzzRead reads arbitrary bytes as a checkpoint file, covering both
// container formats.
func FuzzRead(f *testing.F) {
	for _, b := range fixtures(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ts, err := Read(bytes.NewReader(b), int64(len(b)), "fuzz.pt")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.pt: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		total := 0
		for _, x := range ts {
			total += len(x.Data)
		}
		if total > maxExpansion*len(b) {
			t.Fatalf("%d tensor bytes from a %d-byte file", total, len(b))
		}
	})
}
