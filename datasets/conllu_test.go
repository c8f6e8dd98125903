package datasets

import (
	"strings"
	"testing"

	"github.com/hiertune/hiertune/data/conllu"
	"github.com/hiertune/hiertune/tasks"
)

// TestApplyUDFollowsTaskOrder checks that when a parser and a deprel tagger
// both predict DEPREL, the task configured later is written, every time.
func TestApplyUDFollowsTaskOrder(t *testing.T) {
	sents, err := conllu.Read(strings.NewReader("1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n2\tthere\tthere\tADV\t_\t_\t1\tadvmod\t_\t_\n\n"), "two.conllu")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := conlluFormat{}.Describe(nil)
	parser, err := tasks.New(tasks.Config{Name: "deps", Type: "parse"}, data, 2)
	if err != nil {
		t.Fatal(err)
	}
	tagger, err := tasks.New(tasks.Config{Name: "rel", Type: "tag", Options: &tasks.TagOptions{Column: "deprel", Pooling: "first"}}, data, 2)
	if err != nil {
		t.Fatal(err)
	}
	preds := map[*tasks.Task][]tasks.Prediction{
		parser: {{"head": {"2", "0"}, "deprel": {"discourse", "root"}}},
		tagger: {{"deprel": {"vocative", "dep"}}},
	}
	for range 20 { // map order would differ between some of these
		apply(sents, []*tasks.Task{parser, tagger}, preds)
		w := sents[0].Words()
		if w[0].Head != 2 || w[0].DepRel != "vocative" || w[1].DepRel != "dep" {
			t.Fatalf("head %d, deprels %q %q", w[0].Head, w[0].DepRel, w[1].DepRel)
		}
	}
}
