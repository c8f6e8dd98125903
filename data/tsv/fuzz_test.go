package tsv

import (
	"bytes"
	"testing"
)

// FuzzRead checks that Read never panics, and that what it accepts has one
// example per line after the header, numbered in order.
func FuzzRead(f *testing.F) {
	f.Add([]byte("sentence\tlabel\nit 's good \t1\n"), false)
	f.Add([]byte("\uFEFFtext\tlabel\r\na\t0\r\nb\t1"), false)
	f.Add([]byte("index\tsentence\n0\thi\n"), true)
	f.Fuzz(func(t *testing.T, data []byte, allowNoLabel bool) {
		examples, err := Read(bytes.NewReader(data), "fuzz", Options{AllowNoLabel: allowNoLabel})
		if err != nil {
			return
		}
		for i, ex := range examples {
			if ex.Line != i+2 {
				t.Fatalf("example %d on line %d, want %d", i, ex.Line, i+2)
			}
			if !allowNoLabel && ex.Label == "" {
				t.Fatalf("example %d has no label", i)
			}
		}
	})
}
