package conllu

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Write writes sents in CoNLL-U, each sentence followed by a blank line, with
// "\n" line endings: a file read by Read and not changed is written back byte
// for byte (up to the normalisations listed in the package documentation).
//
// Write checks that every sentence has a row and every field can be written
// (a column non-empty, a column or comment valid UTF-8 without a line break,
// a column also without a tab), naming the sentence and row at fault; it
// does not check what Read checks of the IDs and heads.
func Write(w io.Writer, sents []*Sentence) error {
	bw := bufio.NewWriter(w)
	for i, s := range sents {
		if err := writeSentence(bw, s); err != nil {
			return fmt.Errorf("conllu: writing sentence %d: %w", i+1, err)
		}
	}
	return bw.Flush()
}

func writeSentence(bw *bufio.Writer, s *Sentence) error {
	if s == nil || len(s.Rows) == 0 {
		return errors.New("no rows")
	}
	for _, c := range s.Comments {
		if !utf8.ValidString(c) || strings.ContainsAny(c, "\r\n") {
			return fmt.Errorf("comment %q: invalid UTF-8 or a line break", c)
		}
		bw.WriteByte('#')
		bw.WriteString(c)
		bw.WriteByte('\n')
	}
	for i := range s.Rows {
		r := &s.Rows[i]
		head := "_"
		if r.Head != NoHead {
			if r.Head < 0 {
				return fmt.Errorf("row %s: negative HEAD %d", r.IDString(), r.Head)
			}
			head = strconv.Itoa(r.Head)
		}
		cols := [10]string{r.IDString(), r.Form, r.Lemma, r.UPOS, r.XPOS, r.Feats, head, r.DepRel, r.Deps, r.Misc}
		for j, c := range cols {
			if c == "" || !utf8.ValidString(c) || strings.ContainsAny(c, "\t\r\n") {
				return fmt.Errorf("row %s: %s column %q: empty, invalid UTF-8, or has a tab or line break", cols[0], columnNames[j], c)
			}
			if j > 0 {
				bw.WriteByte('\t')
			}
			bw.WriteString(c)
		}
		bw.WriteByte('\n')
	}
	// bw keeps its first write error: it shows here, or else in Flush.
	_, err := bw.WriteString("\n")
	return err
}
