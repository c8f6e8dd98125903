package serve

import (
	"reflect"
	"testing"

	"github.com/hiertune/hiertune/checkpoints"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

func TestSentences(t *testing.T) {
	dir, err := checkpoints.Dir("default")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	text := "  The cat sat (on the mat). It purred!\n\nthen slept \"happily.\" 3 dogs barked?  "
	words, offsets := Sentences(tok, text)
	want := [][]string{
		{"The", "cat", "sat", "(", "on", "the", "mat", ")", "."},
		{"It", "purred", "!"},
		{"then", "slept", "\"", "happily", ".", "\""},
		{"3", "dogs", "barked", "?"},
	}
	if !reflect.DeepEqual(words, want) {
		t.Fatalf("words %q, want %q", words, want)
	}
	for s, ws := range words {
		for i, w := range ws {
			if o := offsets[s][i]; text[o[0]:o[1]] != w {
				t.Errorf("sentence %d word %d: offsets %v give %q, want %q", s, i, o, text[o[0]:o[1]], w)
			}
		}
	}
	if w, _ := Sentences(tok, " \n\t "); len(w) != 0 {
		t.Errorf("blank text gave %q", w)
	}
}
