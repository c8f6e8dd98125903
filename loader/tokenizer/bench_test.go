package tokenizer

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkEncodeEWT tokenizes the 12.5k sentences of the EWT training text
// with bert-base-uncased, from tokenizer.json and from vocab.txt.
func BenchmarkEncodeEWT(b *testing.B) {
	dir := sharedData(b)
	data, err := os.ReadFile(filepath.Join(dir, "raw_text/en_ewt_train.txt"))
	if err != nil {
		b.Fatal(err)
	}
	lines := splitLines(string(data))
	for _, file := range []string{"tokenizer.json", "vocab.txt"} {
		tok := mustLoad(b, filepath.Join(dir, "bert_vocab/bert-base-uncased", file))
		b.Run(file, func(b *testing.B) {
			for range b.N {
				for _, l := range lines {
					tok.Encode(l)
				}
			}
		})
	}
}
