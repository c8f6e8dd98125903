package datasets

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/tasks"
)

// TestPredictWritesTheInputBack checks, for every format, that writing
// predictions equal to the gold annotation gives the input file back byte
// for byte: predict changes nothing but the predicted columns.
func TestPredictWritesTheInputBack(t *testing.T) {
	conllu := "# sent_id = 1\n# text = Hi there.\n1-2\tHi'\t_\t_\t_\t_\t_\t_\t_\t_\n1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\tSpaceAfter=No\n" +
		"2\t'\t'\tPART\tPOS\t_\t1\tcase\t_\t_\n2.1\tgone\tgo\tVERB\t_\t_\t_\t_\t0:root\t_\n3\tthere\tthere\tADV\tRB\tDegree=Pos\t1\tadvmod\t_\t_\n\n"
	cases := []struct {
		name, format, text string
		opts               any
		tasks              []tasks.Config
	}{
		{"conllu", "conllu", conllu, nil, []tasks.Config{
			{Name: "upos", Type: "tag", Options: &tasks.TagOptions{Column: "upos", Pooling: "first"}},
			{Name: "feats", Type: "feats", Options: &tasks.FeatsOptions{Pooling: "first"}},
			{Name: "deps", Type: "parse", Options: &tasks.ParseOptions{ArcMLP: 8, RelMLP: 8, Decoder: "mst", Pooling: "first"}},
			{Name: "lemma", Type: "lemma", Options: &tasks.LemmaOptions{Pooling: "first", Candidates: 1}},
		}},
		{"conllu with a BOM, CRLF, blank lines and no final blank line", "conllu",
			"\uFEFF# sent_id = a\r\n1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\r\n\r\n\r\n\r\n1\tYo\tyo\tINTJ\t_\t_\t0\troot\t_\t_\n", nil,
			[]tasks.Config{{Name: "deps", Type: "parse", Options: &tasks.ParseOptions{ArcMLP: 8, RelMLP: 8, Decoder: "mst", Pooling: "first"}}}},
		{"conll with a prefix, BOMs, a document start and CRLF", "conll",
			"\uFEFF-DOCSTART- O\r\n\r\nen:EU\tB-ORG\r\nen:rejects\tO\r\n\r\n\r\nen:German  B-MISC\r\nen:call\tO\r\n",
			&ConllOptions{TokenPrefix: "en:", Scheme: "iob2", InvalidTags: "error"},
			[]tasks.Config{{Name: "ner", Type: "tag", Options: &tasks.TagOptions{Pooling: "first"}}}},
		{"conll spaced, no final newline", "conll", "EU B-ORG \nrejects   O\n\nGerman B-MISC", &ConllOptions{Scheme: "iob2", InvalidTags: "error"},
			[]tasks.Config{{Name: "ner", Type: "tag", Options: &tasks.TagOptions{Pooling: "first"}}}},
		{"tsv with pairs and other columns", "tsv", "\uFEFFid\tsentence1\tsentence2\tlabel\tsource\r\n1\ta b\tc\tyes\tx\r\n2\td\te f\tno\ty",
			&TSVOptions{Text: "sentence1", TextPair: "sentence2", Label: "label"},
			[]tasks.Config{{Name: "nli", Type: "classify", Options: &tasks.ClassifyOptions{Pooling: "cls"}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "in")
			if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
				t.Fatal(err)
			}
			d, err := New("d", Config{Format: c.format, Options: c.opts})
			if err != nil {
				t.Fatal(err)
			}
			exs, err := d.Read(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			preds := map[*tasks.Task][]tasks.Prediction{}
			var ts []*tasks.Task
			for _, tc := range c.tasks {
				task, err := tasks.New(tc, d.Data, 2)
				if err != nil {
					t.Fatal(err)
				}
				ts = append(ts, task)
				for _, ex := range exs {
					p := tasks.Prediction{}
					for _, col := range task.Head.Columns() {
						p[col] = ex.Gold.Column(col)
					}
					preds[task] = append(preds[task], p)
				}
			}
			var out bytes.Buffer
			if err := d.Write(&out, exs, ts, preds); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.text {
				t.Errorf("written back:\n%q\nwant\n%q", out.String(), c.text)
			}
		})
	}
}

// TestInvalidTagsPolicy checks what reading does with tags that do not
// follow the scheme: an error naming the line by default, repaired and
// counted with repair, kept with keep.
func TestInvalidTagsPolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ner.conll")
	os.WriteFile(path, []byte("EU\tB-ORG\nrejects\tO\n\nthe\tO\nGerman\tI-MISC\ncall\tO\n"), 0o644)
	read := func(policy string) ([]*tasks.Example, string, error) {
		d, err := New("ner", Config{Format: "conll", Options: &ConllOptions{Scheme: "iob2", InvalidTags: policy}})
		if err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		exs, err := d.Read(path, &log)
		return exs, log.String(), err
	}
	if _, _, err := read("error"); err == nil || !strings.Contains(err.Error(), "ner.conll:5: tag \"I-MISC\"") {
		t.Errorf("error: %v", err)
	}
	exs, log, err := read("repair")
	if err != nil || strings.Join(exs[1].Gold.Column("tag"), " ") != "O B-MISC O" || !strings.Contains(log, "1 sentences whose tags do not follow iob2 repaired") {
		t.Errorf("repair: %v, %v, log %q", exs, err, log)
	}
	if exs, _, err := read("keep"); err != nil || strings.Join(exs[1].Gold.Column("tag"), " ") != "O I-MISC O" {
		t.Errorf("keep: %v, %v", exs, err)
	}
	if _, err := New("ner", Config{Format: "conll", Options: &ConllOptions{Scheme: "iob2", InvalidTags: "fix"}}); err == nil {
		t.Error("an unknown policy was accepted")
	}
}
