package conllu

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics and that whatever it accepts is
// written by Write and read back to the same sentences.
func FuzzRead(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(strings.ReplaceAll(sample, "\n", "\r\n")))
	f.Add([]byte(row("1", "0") + row("1.1", "_") + row("1.2", "_") + "1-2\tx\t_\t_\t_\t_\t_\t_\t_\t_\n" + row("2", "1")))
	f.Add([]byte("# only a comment\n"))
	f.Add([]byte("\uFEFF" + row("1", "0")))
	dev := filepath.Join("..", "..", "..", "shared", "data", "ud_english_ewt", "en_ewt-ud-dev.conllu")
	if data, err := os.ReadFile(dev); err == nil {
		// The first two sentences: larger seeds make minimising slow.
		f.Add(data[:firstSentences(data, 2)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sents, err := Read(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, sents); err != nil {
			t.Fatalf("Write of accepted input: %v", err)
		}
		again, err := Read(bytes.NewReader(buf.Bytes()), "again")
		if err != nil {
			t.Fatalf("Read of written output: %v\n%q", err, buf.Bytes())
		}
		if len(again) != len(sents) {
			t.Fatalf("%d sentences read back, want %d", len(again), len(sents))
		}
		for i := range sents {
			a, b := *sents[i], *again[i]
			a.Line, b.Line = 0, 0 // repeated blank lines are not written back
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("sentence %d read back as\n%+v\nwant\n%+v", i+1, b, a)
			}
		}
	})
}

// firstSentences returns the length of the first n sentences of a CoNLL-U
// file, each ending in "\n\n", or of all of data if it has fewer.
func firstSentences(data []byte, n int) int {
	end := 0
	for ; n > 0; n-- {
		i := bytes.Index(data[end:], []byte("\n\n"))
		if i < 0 {
			return len(data)
		}
		end += i + 2
	}
	return end
}
