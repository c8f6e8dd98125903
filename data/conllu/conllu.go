// Package conllu reads and writes CoNLL-U, the format of the Universal
// Dependencies treebanks (https://universaldependencies.org/format.html).
//
// A file is a sequence of sentences. A sentence is its comment lines, then one
// row per syntactic word, multiword token or empty node, ten tab-separated
// columns each, then a blank line. Read keeps every row and comment verbatim,
// so Write gives back the same bytes for a sentence that was not changed.
// Taggers and parsers train on the syntactic words (Sentence.Words); the
// multiword tokens and empty nodes are kept for writing and evaluation.
//
// Read accepts, and Write normalises: "\r\n" line endings, a byte-order mark
// at the start, a missing blank line at the end and repeated blank lines
// between sentences. Read checks the structure of every sentence (columns,
// IDs, head range) but not that the heads form a tree, nor the FEATS and DEPS
// syntax: see Validate, IsTree and ParseFeats.
package conllu

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/hiertune/hiertune/data/text"
)

// NoHead is Row.Head for a HEAD column "_": always for multiword tokens and
// empty nodes, and for words of files without basic dependencies.
const NoHead = -1

// Kind tells what a Row stands for.
type Kind uint8

const (
	// Word is a syntactic word, with an integer ID such as "7".
	Word Kind = iota
	// MultiwordToken is a surface token split into several words, with an ID
	// range such as "1-2".
	MultiwordToken
	// EmptyNode is a node of the enhanced graph only, with a decimal ID such
	// as "8.1".
	EmptyNode
)

// String returns the kind's name, for errors.
func (k Kind) String() string {
	switch k {
	case Word:
		return "word"
	case MultiwordToken:
		return "multiword token"
	case EmptyNode:
		return "empty node"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// A Row is one line of a sentence other than a comment: its ten columns,
// with the ID and HEAD parsed.
type Row struct {
	Kind Kind
	// ID is the word's ID; for a multiword token, the first word of its
	// range; for an empty node, the word it follows (0 before the first).
	ID int
	// End is the last word of a multiword token's range, and 0 otherwise.
	End int
	// Sub is an empty node's number after the decimal point, and 0 otherwise.
	Sub int

	Form, Lemma, UPOS, XPOS, Feats string
	// Head is the ID of the word's head, 0 for the root, or NoHead.
	Head               int
	DepRel, Deps, Misc string
}

// IDString returns the ID column of r: "7", "1-2" or "8.1".
func (r *Row) IDString() string {
	switch r.Kind {
	case MultiwordToken:
		return strconv.Itoa(r.ID) + "-" + strconv.Itoa(r.End)
	case EmptyNode:
		return strconv.Itoa(r.ID) + "." + strconv.Itoa(r.Sub)
	}
	return strconv.Itoa(r.ID)
}

// A Sentence is one sentence of a CoNLL-U file.
type Sentence struct {
	// Comments are the comment lines, in order, without their leading "#":
	// "# text = Hi." is kept as " text = Hi.".
	Comments []string
	// Rows are the words, multiword tokens and empty nodes in file order.
	Rows []Row
	// Line is the number of the sentence's first line in the file it was
	// read from (0 if it was not read).
	Line int
}

// Words returns the syntactic words of s in order, word i+1 at index i, as
// pointers into s.Rows: setting their fields changes s.
func (s *Sentence) Words() []*Row {
	words := make([]*Row, 0, len(s.Rows))
	for i := range s.Rows {
		if s.Rows[i].Kind == Word {
			words = append(words, &s.Rows[i])
		}
	}
	return words
}

// Heads returns the head of every syntactic word of s, word i+1 at index i.
func (s *Sentence) Heads() []int {
	var heads []int
	for _, r := range s.Rows {
		if r.Kind == Word {
			heads = append(heads, r.Head)
		}
	}
	return heads
}

// Meta returns the value of the first comment "# key = value" of s, or of a
// bare "# key", and whether there is one: Meta("sent_id"), Meta("text").
func (s *Sentence) Meta(key string) (string, bool) {
	for _, c := range s.Comments {
		k, v, hasValue := strings.Cut(c, "=")
		if strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
		if !hasValue && strings.TrimSpace(c) == key {
			return "", true
		}
	}
	return "", false
}

// ReadFile reads the CoNLL-U file at path (see Read).
func ReadFile(path string) ([]*Sentence, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path)
}

// Read reads every sentence of a CoNLL-U file; name is used in errors, which
// give the line as "name:line: ...". An empty file (or one of blank lines)
// gives no sentences and no error: whether that is acceptable is for the
// caller to decide.
//
// Every row must have ten tab-separated, non-empty columns; word IDs must be
// 1, 2, ... n in order; HEAD must be "_" or an integer in 0..n, and "_" for
// multiword tokens and empty nodes; a range "a-b" must have a < b, come
// after word a-1 and before word a, not overlap the previous range and end
// at a word of the sentence; an empty node "i.j" must follow word i (or come
// first, for i = 0), with j = 1, 2, ... for each i; comments must come before
// the rows. A line that is not valid UTF-8 or holds a carriage return other
// than in a final "\r\n" is an error too.
func Read(r io.Reader, name string) ([]*Sentence, error) {
	lr := text.NewReader(r, name)
	var (
		sents []*Sentence
		p     *parser
	)
	for {
		line, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch {
		case line == "":
			if p != nil {
				if err := p.finish(); err != nil {
					return nil, err
				}
				sents = append(sents, p.s)
				p = nil
			}
		case p == nil:
			p = &parser{lr: lr, s: &Sentence{Line: lr.Line()}}
			fallthrough
		default:
			if err := p.add(line); err != nil {
				return nil, err
			}
		}
	}
	if p != nil {
		if err := p.finish(); err != nil {
			return nil, err
		}
		sents = append(sents, p.s)
	}
	return sents, nil
}

// parser builds one sentence from its lines.
type parser struct {
	lr        *text.Reader
	s         *Sentence
	lines     []int // line number of each row, for errors found at the end
	words     int   // words so far: the ID of the last one
	rangeEnd  int   // end of the last multiword token's range
	emptyID   int   // ID of the last empty node
	emptySub  int   // Sub of the last empty node
	lastRange int   // index in s.Rows of the last multiword token
}

// columnNames are the CoNLL-U columns, for errors.
var columnNames = [10]string{"ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC"}

// add parses one comment or row of the sentence.
func (p *parser) add(line string) error {
	if line[0] == '#' {
		if len(p.s.Rows) > 0 {
			return p.lr.Errorf("comment line after the first row of the sentence (comments must come first)")
		}
		p.s.Comments = append(p.s.Comments, line[1:])
		return nil
	}
	if n := strings.Count(line, "\t") + 1; n != 10 {
		return p.lr.Errorf("%d tab-separated columns, want 10", n)
	}
	cols := strings.Split(line, "\t")
	for i, c := range cols {
		if c == "" {
			return p.lr.Errorf("empty %s column (an unknown value is written _)", columnNames[i])
		}
	}
	row := Row{
		Form: cols[1], Lemma: cols[2], UPOS: cols[3], XPOS: cols[4], Feats: cols[5],
		DepRel: cols[7], Deps: cols[8], Misc: cols[9],
	}
	if err := p.parseID(&row, cols[0]); err != nil {
		return err
	}
	head, err := parseHead(cols[6])
	if err != nil {
		return p.lr.Errorf("HEAD %q: %v", cols[6], err)
	}
	if head != NoHead && row.Kind != Word {
		return p.lr.Errorf("HEAD %q of %s %s: must be _", cols[6], row.Kind, cols[0])
	}
	row.Head = head
	p.s.Rows = append(p.s.Rows, row)
	p.lines = append(p.lines, p.lr.Line())
	return nil
}

// parseID parses the ID column into row and checks its place in the
// sentence.
func (p *parser) parseID(row *Row, id string) error {
	if a, b, ok := strings.Cut(id, "-"); ok {
		start, err1 := parseNat(a)
		end, err2 := parseNat(b)
		switch {
		case err1 != nil || err2 != nil:
			return p.lr.Errorf("malformed multiword token ID %q", id)
		case start >= end:
			return p.lr.Errorf("multiword token ID %q: the range must end after it starts", id)
		case start != p.words+1:
			return p.lr.Errorf("multiword token ID %q: a range after word %d must start at %d", id, p.words, p.words+1)
		case start <= p.rangeEnd:
			return p.lr.Errorf("multiword token ID %q overlaps the range ending at word %d", id, p.rangeEnd)
		}
		row.Kind, row.ID, row.End = MultiwordToken, start, end
		p.rangeEnd = end
		p.lastRange = len(p.s.Rows)
		return nil
	}
	if a, b, ok := strings.Cut(id, "."); ok {
		word, err1 := parseNat(a)
		sub, err2 := parseNat(b)
		switch {
		case err1 != nil || err2 != nil || sub == 0:
			return p.lr.Errorf("malformed empty node ID %q", id)
		case word != p.words:
			return p.lr.Errorf("empty node ID %q: must follow word %d, not word %d", id, word, p.words)
		}
		want := 1
		if p.emptySub > 0 && p.emptyID == word {
			want = p.emptySub + 1
		}
		if sub != want {
			return p.lr.Errorf("empty node ID %q: want %d.%d", id, word, want)
		}
		row.Kind, row.ID, row.Sub = EmptyNode, word, sub
		p.emptyID, p.emptySub = word, sub
		return nil
	}
	n, err := parseNat(id)
	if err != nil {
		return p.lr.Errorf("malformed ID %q", id)
	}
	if n != p.words+1 {
		return p.lr.Errorf("word ID %d: want %d (IDs must be 1, 2, ... in order)", n, p.words+1)
	}
	row.Kind, row.ID = Word, n
	p.words = n
	return nil
}

// finish checks what can only be checked once the sentence is complete.
func (p *parser) finish() error {
	if p.words == 0 {
		return p.lr.ErrorAt(p.s.Line, "sentence has no words")
	}
	if p.rangeEnd > p.words {
		r := &p.s.Rows[p.lastRange]
		return p.lr.ErrorAt(p.lines[p.lastRange], "multiword token ID %q: the sentence ends at word %d", r.IDString(), p.words)
	}
	for i, r := range p.s.Rows {
		if r.Head > p.words {
			return p.lr.ErrorAt(p.lines[i], "HEAD %d of word %d: the sentence ends at word %d", r.Head, r.ID, p.words)
		}
	}
	return nil
}

// errNotNat is the error of parseNat.
var errNotNat = errors.New("not a non-negative integer without leading zeros")

// parseNat parses a non-negative decimal integer written without sign or
// leading zeros, the only form Write gives back.
func parseNat(s string) (int, error) {
	if s == "" || len(s) > 9 || (s[0] == '0' && len(s) > 1) {
		return 0, errNotNat
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errNotNat
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, nil
}

// parseHead parses a HEAD column: "_" or a non-negative integer.
func parseHead(s string) (int, error) {
	if s == "_" {
		return NoHead, nil
	}
	return parseNat(s)
}
