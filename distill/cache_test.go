package distill

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCache stores outputs, reads them back after reopening, drops a
// record cut short by a crash, and empties itself for another teacher.
func TestCache(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	c, err := OpenCache(dir, "teacher A")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Put("upos", 7, []float32{1, 2, 3, 4, 5, 6}, 2, 3); err != nil {
		t.Fatal(err)
	}
	if err := c.Put("upos", 2, nil, 0, 3); err != nil { // an example without rows
		t.Fatal(err)
	}
	if err := c.Put("upos", 3, []float32{1}, 2, 3); err == nil {
		t.Error("no error for 1 value of 2×3")
	}
	if err := c.Put("../x", 1, nil, 0, 0); err == nil {
		t.Error("no error for an output name with a path")
	}
	c.Close()
	// A crash in the middle of a third record.
	f, err := os.OpenFile(filepath.Join(dir, "upos.bin"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte{9, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	f.Close()

	c, err = OpenCache(dir, "teacher A")
	if err != nil {
		t.Fatal(err)
	}
	v, rows, cols, ok, err := c.Get("upos", 7)
	if err != nil || !ok || rows != 2 || cols != 3 || !slices.Equal(v, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("Get 7 = %v %d×%d %v %v", v, rows, cols, ok, err)
	}
	if _, rows, _, ok, _ := c.Get("upos", 2); !ok || rows != 0 {
		t.Errorf("Get 2: %d rows, %v", rows, ok)
	}
	if _, _, _, ok, _ := c.Get("upos", 9); ok {
		t.Error("the torn record was read")
	}
	if err := c.Put("upos", 9, []float32{8}, 1, 1); err != nil {
		t.Fatal(err)
	}
	if v, _, _, ok, _ := c.Get("upos", 9); !ok || v[0] != 8 {
		t.Errorf("after the torn record: %v %v", v, ok)
	}
	c.Close()

	c, err = OpenCache(dir, "teacher B")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, _, _, ok, _ := c.Get("upos", 7); ok {
		t.Error("another teacher read the first one's outputs")
	}
}

// FuzzCacheFile opens arbitrary cache files: they must never panic, and
// every record they keep must read back.
func FuzzCacheFile(f *testing.F) {
	f.Add([]byte{7, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 128, 63})
	f.Add([]byte{0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "teacher"), []byte("t"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "x.bin"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := OpenCache(dir, "t")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		file, err := c.file("x")
		if err != nil {
			t.Fatal(err)
		}
		for key, e := range file.index {
			v, rows, cols, ok, err := c.Get("x", key)
			if err != nil || !ok || rows != e.rows || cols != e.cols || len(v) != rows*cols {
				t.Fatalf("record %d: %d values, %d×%d, %v, %v", key, len(v), rows, cols, ok, err)
			}
		}
	})
}
