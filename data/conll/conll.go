// Package conll reads and writes the CoNLL token-per-line format of sequence
// labelling data such as named entities: a token and its tag on each line,
// a blank line between sentences. It also knows the span tagging schemes
// (IOB1, IOB2, IOBES, BILOU): validating, converting, and extracting spans
// as seqeval does in its strict mode and as conlleval does.
//
// A line's columns are separated by tabs if it has one, and otherwise by
// runs of spaces. A line of only spaces and tabs is blank. A line whose first
// column is "-DOCSTART-" (a document boundary in CoNLL-2003) ends the current
// sentence and is otherwise skipped. "\r\n" line endings are accepted. A
// byte-order mark (U+FEFF), even at the start, is read as part of the text
// unless Options.StripBOM is set.
package conll

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/hiertune/hiertune/data/text"
)

// docStart is the first column of a document-boundary line.
const docStart = "-DOCSTART-"

// Options says how to read a file. The zero value reads "token<TAB>tag" lines
// without checking the tags.
type Options struct {
	// TokenPrefix, if set, must begin every token and is removed from it:
	// "en:" for WikiANN. A token without it is an error, which catches a
	// wrong file or option.
	TokenPrefix string
	// StripBOM removes U+FEFF (a byte-order mark) from everywhere in every
	// line before it is read: a line holding only one is then blank. (One
	// starting the file is always dropped, as an encoding mark.)
	StripBOM bool
	// TokenColumn and TagColumn are the 1-based columns of the token and the
	// tag; 0 means the first column for the token and the last for the tag.
	// Every line of a file must have as many columns as its first.
	TokenColumn, TagColumn int
	// Scheme, if set, is the tagging scheme every sentence must follow (see
	// Validate); a tag it does not allow is an error.
	Scheme Scheme
}

// A Sentence is the tokens of one sentence and their tags.
type Sentence struct {
	Words []string
	Tags  []string
	// Line is the number of the line of Words[0] in the file it was read
	// from, so Words[i] is on line Line+i (0 if it was not read).
	Line int
}

// ReadFile reads the file at path (see Read).
func ReadFile(path string, opt Options) ([]Sentence, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path, opt)
}

// Read reads every sentence of a CoNLL file; name is used in errors, which
// give the line as "name:line: ...". An empty file (or one of blank lines)
// gives no sentences and no error.
//
// It is an error for a line to have fewer than two columns, another number
// of columns than the file's first line, or too few for the Options; for a
// token or tag to be empty or only spaces, or a token to lack
// Options.TokenPrefix; for a tag not to follow Options.Scheme; and for a
// line not to be valid UTF-8 or to hold a carriage return other than in a
// final "\r\n".
func Read(r io.Reader, name string, opt Options) ([]Sentence, error) {
	if opt.TokenColumn < 0 || opt.TagColumn < 0 || max(opt.TokenColumn, 1) == opt.TagColumn {
		return nil, fmt.Errorf("conll: reading %s: bad columns: token %d, tag %d", name, opt.TokenColumn, opt.TagColumn)
	}
	if opt.Scheme != 0 && !opt.Scheme.valid() {
		return nil, fmt.Errorf("conll: reading %s: unknown %v", name, opt.Scheme)
	}
	lr := text.NewReader(r, name)
	var (
		sents   []Sentence
		cur     Sentence
		columns int // of the first token line
	)
	flush := func() error {
		if len(cur.Words) == 0 {
			return nil
		}
		if opt.Scheme != 0 {
			if e := validate(cur.Tags, opt.Scheme); e != nil {
				return lr.ErrorAt(cur.Line+e.Index, "tag %q: %s", e.Tag, e.Reason)
			}
		}
		sents = append(sents, cur)
		cur = Sentence{}
		return nil
	}
	for {
		line, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if opt.StripBOM {
			line = strings.ReplaceAll(line, "\uFEFF", "")
		}
		if strings.Trim(line, " \t") == "" {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		fields := splitColumns(line)
		if fields[0] == docStart {
			if err := flush(); err != nil {
				return nil, err
			}
			continue
		}
		if columns == 0 {
			columns = len(fields)
		}
		word, tag, err := pick(fields, columns, opt)
		if err != nil {
			return nil, lr.Errorf("%v", err)
		}
		if len(cur.Words) == 0 {
			cur.Line = lr.Line()
		}
		cur.Words = append(cur.Words, word)
		cur.Tags = append(cur.Tags, tag)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return sents, nil
}

// splitColumns splits a line at its tabs if it has one, and else at runs of
// spaces.
func splitColumns(line string) []string {
	if strings.Contains(line, "\t") {
		return strings.Split(line, "\t")
	}
	return strings.FieldsFunc(line, func(r rune) bool { return r == ' ' })
}

// pick returns the token and tag of a line's fields, checked.
func pick(fields []string, columns int, opt Options) (word, tag string, err error) {
	if len(fields) < 2 {
		return "", "", fmt.Errorf("%d column, want a token and a tag", len(fields))
	}
	if len(fields) != columns {
		return "", "", fmt.Errorf("%d columns, but the first line has %d", len(fields), columns)
	}
	wordCol, tagCol := 1, len(fields)
	if opt.TokenColumn != 0 {
		wordCol = opt.TokenColumn
	}
	if opt.TagColumn != 0 {
		tagCol = opt.TagColumn
	}
	switch {
	case wordCol > len(fields) || tagCol > len(fields):
		return "", "", fmt.Errorf("%d columns, too few for token column %d and tag column %d", len(fields), wordCol, tagCol)
	case wordCol == tagCol:
		return "", "", fmt.Errorf("token and tag are both column %d", wordCol)
	}
	word, tag = fields[wordCol-1], fields[tagCol-1]
	if blank(tag) {
		return "", "", fmt.Errorf("empty tag in column %d", tagCol)
	}
	if opt.TokenPrefix != "" {
		w, ok := strings.CutPrefix(word, opt.TokenPrefix)
		if !ok {
			return "", "", fmt.Errorf("token %q does not start with %q", word, opt.TokenPrefix)
		}
		word = w
	}
	if blank(word) {
		return "", "", fmt.Errorf("empty token in column %d", wordCol)
	}
	return word, tag, nil
}

// blank reports whether a column is empty or only spaces.
func blank(s string) bool {
	return strings.Trim(s, " ") == ""
}

// Write writes sents as "token<TAB>tag" lines, a blank line after each
// sentence. It is an error for a sentence to be empty or to have not as many
// tags as tokens, and for a token or tag to be something Read would not give
// back: empty or only spaces, invalid UTF-8, holding a tab or line break, or
// a token "-DOCSTART-".
func Write(w io.Writer, sents []Sentence) error {
	bw := bufio.NewWriter(w)
	for i, s := range sents {
		if len(s.Words) == 0 || len(s.Words) != len(s.Tags) {
			return fmt.Errorf("conll: writing sentence %d: %d tokens and %d tags", i+1, len(s.Words), len(s.Tags))
		}
		for j, word := range s.Words {
			tag := s.Tags[j]
			if !writable(word) || !writable(tag) || word == docStart {
				return fmt.Errorf("conll: writing sentence %d: token %d %q, tag %q: cannot be written", i+1, j+1, word, tag)
			}
			bw.WriteString(word)
			bw.WriteByte('\t')
			bw.WriteString(tag)
			bw.WriteByte('\n')
		}
		if err := bw.WriteByte('\n'); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writable reports whether a token or tag can be written on a line and read
// back the same.
func writable(s string) bool {
	return !blank(s) && !strings.ContainsAny(s, "\t\r\n") && utf8.ValidString(s)
}
