package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hiertune/hiertune/loader/tokenizer"
)

// runVocabArgs runs "hiertune vocab" with args.
func runVocabArgs(args ...string) (stdout, stderr string, err error) {
	var out, errOut bytes.Buffer
	err = runVocab(args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// writeCorpus writes files named like the keys into a new directory and
// returns their paths, in key order.
func writeCorpus(t *testing.T, files map[string]string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	slices.Sort(paths)
	return paths
}

func TestVocabCommand(t *testing.T) {
	corpus, err := os.ReadFile("../../loader/tokenizer/testdata/train_corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	half := bytes.IndexByte(corpus[len(corpus)/2:], '\n') + len(corpus)/2 + 1
	// The second file has Windows line ends and no final one.
	second := strings.ReplaceAll(strings.TrimSuffix(string(corpus[half:]), "\n"), "\n", "\r\n")
	paths := writeCorpus(t, map[string]string{"a.txt": string(corpus[:half]), "b.txt": second})
	out := filepath.Join(t.TempDir(), "new", "vocab")
	stdout, stderr, err := runVocabArgs("--input", strings.Join(paths, ","), "--size", "2000", "--output", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"read 400 lines:", "trained:"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%s", want, stderr)
		}
	}
	for _, want := range []string{"vocabulary: 2000 tokens after", "first 400 training lines:", "pieces per word, 0 words [UNK] (0.00%)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}

	// The directory loads as a tokenizer with the vocabulary of vocab.txt
	// and the settings of tokenizer_config.json.
	tok, err := tokenizer.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	txt, err := os.ReadFile(filepath.Join(out, "vocab.txt"))
	if err != nil {
		t.Fatal(err)
	}
	vocab := strings.Split(strings.TrimSuffix(string(txt), "\n"), "\n")
	if len(vocab) != 2000 || tok.VocabSize() != 2000 || !slices.Equal(vocab[:5], []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}) {
		t.Fatalf("vocab.txt has %d tokens starting %q; tokenizer %d", len(vocab), vocab[:5], tok.VocabSize())
	}
	for id, want := range vocab {
		if got, _ := tok.IDToToken(id); got != want {
			t.Fatalf("id %d: tokenizer.json has %q, vocab.txt %q", id, got, want)
		}
	}
	if got := strings.Join(tok.Encode("The Al-Zaman said it.").Tokens, " "); !strings.HasPrefix(got, "the al - ") || !strings.HasSuffix(got, "said it .") {
		t.Errorf("uncased tokenizer: %q", got)
	}
	var cfg map[string]any
	data, _ := os.ReadFile(filepath.Join(out, "tokenizer_config.json"))
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["do_lower_case"] != true || cfg["tokenizer_class"] != "BertTokenizer" || cfg["model_max_length"] != 512.0 || cfg["mask_token"] != "[MASK]" {
		t.Errorf("tokenizer_config.json: %v", cfg)
	}
	if s := tok.Specials(); s.PAD != 0 || s.UNK != 1 || s.CLS != 2 || s.SEP != 3 || s.MASK != 4 {
		t.Errorf("specials %+v", s)
	}
	if files, _ := os.ReadDir(out); len(files) != 3 {
		t.Errorf("%d files written, want 3 (no temporary files left)", len(files))
	}

	// --cased keeps case and accents; a vocabulary the corpus cannot fill
	// says so.
	casedOut := t.TempDir()
	paths = writeCorpus(t, map[string]string{"c.txt": "Café café CAFÉ\n"})
	stdout, _, err = runVocabArgs("--input", paths[0], "--cased", "--size", "1000", "--min-frequency", "1", "--output", casedOut)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "stopped short of 1000") {
		t.Errorf("summary: %s", stdout)
	}
	cased, err := tokenizer.Load(casedOut)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"Café", "café", "CAFÉ"} {
		if e := cased.Encode(w); !slices.Equal(e.Tokens, []string{w}) {
			t.Errorf("cased: %q is %q", w, e.Tokens)
		}
	}
}

func TestVocabCommandErrors(t *testing.T) {
	paths := writeCorpus(t, map[string]string{
		"good.txt":  "fine text\n",
		"bad.txt":   "fine\nalso fine\nbad \xff byte\n",
		"empty.txt": "",
		"blank.txt": "\n \t\n[SEP]\n",
	})
	bad, blank, empty, good := paths[0], paths[1], paths[2], paths[3]
	out := t.TempDir()
	cases := []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"--input", good + "," + bad, "--output", out}, false, bad + ":3: invalid UTF-8 at byte 5"},
		{[]string{"--input", empty, "--output", out}, false, empty + ": the corpus has no words"},
		{[]string{"--input", blank, "--output", out}, false, "no words"},
		{[]string{"--input", filepath.Join(out, "missing.txt"), "--output", out}, false, "missing.txt"},
		{[]string{"--input", good, "--size", "8", "--output", out}, false, "too small"},
		{[]string{"--input", good}, true, "--output"},
		{[]string{"--input", good + ",", "--output", out}, true, "empty file name"},
		{[]string{"--input", good, "--size", "0", "--output", out}, true, "--size 0"},
		{[]string{"--input", good, "--min-frequency", "-1", "--output", out}, true, "negative"},
		{[]string{"--input", good, "--output", out, "stray"}, true, "stray"},
	}
	for _, c := range cases {
		_, _, err := runVocabArgs(c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.As(err, new(usageError)) != c.usage {
			t.Errorf("%q: error %v, want %q (usage error: %v)", c.args, err, c.want, c.usage)
		}
	}
	if files, _ := os.ReadDir(out); len(files) != 0 {
		t.Errorf("failed runs wrote %d files", len(files))
	}
	if stdout, _, err := runVocabArgs("--help"); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stdout, "Usage: hiertune vocab") {
		t.Errorf("--help: %v %q", err, stdout)
	}
}
