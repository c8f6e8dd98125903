package text

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.txt")
	os.WriteFile(a, []byte("one\r\ntwo\n\n"+strings.Repeat("x", 3<<20)+"\nlast without newline"), 0o644)
	b := filepath.Join(dir, "b.txt")
	os.WriteFile(b, nil, 0o644)
	var got []string
	err := Lines([]string{a, b}, func(line, file string, n int) error {
		if len(line) > 20 {
			line = "long"
		}
		got = append(got, filepath.Base(file)+":"+line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "a.txt:one|a.txt:two|a.txt:|a.txt:long|a.txt:last without newline"
	if strings.Join(got, "|") != want {
		t.Errorf("got %q", strings.Join(got, "|"))
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("fine\nab\xffc\n"), 0o644)
	err = Lines([]string{bad}, func(string, string, int) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "bad.txt:2: invalid UTF-8 at byte 3") {
		t.Errorf("error %v", err)
	}
	n := 0
	if err := Lines([]string{a}, func(string, string, int) error { n++; return Stop }); err != nil || n != 1 {
		t.Errorf("Stop: %v after %d lines", err, n)
	}
	if err := Lines([]string{filepath.Join(dir, "missing")}, nil); err == nil {
		t.Error("a missing file gave no error")
	}
}
