package onnx

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFileExternal(t *testing.T) {
	want := loadExpected(t)
	m, err := ReadFile("testdata/external.onnx")
	if err != nil {
		t.Fatal(err)
	}
	for _, init := range m.Graph.Initializer {
		if init.DataLocation != LocationDefault || init.ExternalData != nil {
			t.Errorf("%s: still marked external", init.Name)
		}
		got, err := init.ToTensor()
		if err != nil {
			t.Fatal(err)
		}
		checkTensor(t, got, want[init.Name])
	}
}

// TestReadFileExternalErrors writes models whose external data entries are
// wrong in one way each.
func TestReadFileExternalErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), make([]byte, 16), 0o644); err != nil {
		t.Fatal(err)
	}
	external := func(entries ...string) *Tensor {
		tn := &Tensor{Name: "w", DataType: Float, Dims: []int64{2}, DataLocation: LocationExternal}
		for i := 0; i < len(entries); i += 2 {
			tn.ExternalData = append(tn.ExternalData, StringStringEntry{entries[i], entries[i+1]})
		}
		return tn
	}
	for _, tc := range []struct {
		name string
		t    *Tensor
		want string // "" for success
	}{
		{"ok", external("location", "w.bin", "offset", "8", "length", "8", "checksum", "x"), ""},
		{"to end of file", external("location", "w.bin", "offset", "8"), ""},
		{"no location", external("offset", "0"), `location "" is not a path inside`},
		{"escapes directory", external("location", "../w.bin"), `location "../w.bin" is not a path inside`},
		{"absolute", external("location", "/etc/passwd"), "is not a path inside"},
		{"missing file", external("location", "nope.bin"), "nope.bin: no such file"},
		{"bad offset", external("location", "w.bin", "offset", "x"), `invalid offset "x"`},
		{"negative length", external("location", "w.bin", "length", "-1"), `invalid length "-1"`},
		{"offset past end", external("location", "w.bin", "offset", "17"), "offset 17 is beyond the end of the file (16 bytes)"},
		{"length past end", external("location", "w.bin", "offset", "8", "length", "9"), "9 bytes at offset 8 run past the end"},
		{"huge length", external("location", "w.bin", "length", "9223372036854775807"), "run past the end"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The tensor sits in a subgraph so that the recursion is covered.
			body := &Graph{Name: "body", Initializer: []*Tensor{tc.t}}
			m := &Model{IRVersion: 8, Graph: &Graph{Node: []*Node{{OpType: "If", Attribute: []*Attribute{
				{Name: "then_branch", Type: AttributeGraph, G: body}}}}}}
			b, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "model.onnx")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadFile(path)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tn := got.Graph.Node[0].Attribute[0].G.Initializer[0]; len(tn.RawData) != 8 || tn.DataLocation != LocationDefault {
					t.Errorf("loaded tensor: %+v", tn)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `tensor "w"`) {
				t.Errorf("ReadFile error = %v, want it to name tensor \"w\" and contain %q", err, tc.want)
			}
		})
	}
}

func TestReadFileErrors(t *testing.T) {
	if _, err := ReadFile("testdata/missing.onnx"); err == nil || !strings.Contains(err.Error(), "missing.onnx") {
		t.Errorf("missing file: %v", err)
	}
	path := filepath.Join(t.TempDir(), "bad.onnx")
	if err := os.WriteFile(path, []byte{0x08}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), path+": ModelProto.field #1") {
		t.Errorf("corrupt file: %v", err)
	}
}

// TestExternalDataSymlinkOutsideDir guards against external data read
// through a symbolic link that leads out of the model's directory, which
// "../" and absolute locations may not do either. Links that stay inside,
// and a model directory that is itself reached through a link, are fine.
func TestExternalDataSymlinkOutsideDir(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.bin"), make([]byte, 8), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), make([]byte, 8), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, link := range [][2]string{ // target, link
		{filepath.Join(outside, "secret.bin"), filepath.Join(dir, "out.bin")}, // a file link leading out
		{outside, filepath.Join(dir, "outdir")},                               // a directory link leading out
		{"w.bin", filepath.Join(dir, "in.bin")},                               // a link that stays inside
		{dir, filepath.Join(outside, "model-dir")},                            // the model directory through a link
	} {
		if err := os.Symlink(link[0], link[1]); err != nil {
			t.Skipf("cannot make symbolic links: %v", err)
		}
	}
	write := func(location string) string {
		t.Helper()
		tn := &Tensor{Name: "w", DataType: Float, Dims: []int64{2}, DataLocation: LocationExternal,
			ExternalData: []StringStringEntry{{"location", location}}}
		b, err := (&Model{IRVersion: 8, Graph: &Graph{Initializer: []*Tensor{tn}}}).Encode()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "model.onnx")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, location := range []string{"out.bin", "outdir/secret.bin"} {
		_, err := ReadFile(write(location))
		if err == nil || !strings.Contains(err.Error(), `tensor "w": external_data: location "`+location+`" leads through a symbolic link to `) ||
			!strings.Contains(err.Error(), "outside the model's directory") {
			t.Errorf("%s: ReadFile error = %v, want it refused as leading outside", location, err)
		}
	}
	write("in.bin")
	for _, path := range []string{filepath.Join(dir, "model.onnx"), filepath.Join(outside, "model-dir", "model.onnx")} {
		m, err := ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if tn := m.Graph.Initializer[0]; len(tn.RawData) != 8 {
			t.Errorf("%s: loaded %d bytes, want 8", path, len(tn.RawData))
		}
	}
}
