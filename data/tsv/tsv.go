// Package tsv reads sentence and sentence-pair classification data from
// tab-separated files with a header row, the layout of the GLUE tasks
// (SST-2: "sentence<TAB>label"), and writes predictions in the same layout.
//
// Fields are split at every tab and kept verbatim, surrounding spaces
// included (SST-2's texts end with one): GLUE's files are not CSV-quoted, so
// a quote is an ordinary character, not the start of a quoted field.
// "\r\n" line endings and a byte-order mark at the start are accepted.
package tsv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/hiertune/hiertune/data/text"
)

// Options names the columns to read.
type Options struct {
	// Text is the column of the text. If empty, it is "sentence" (GLUE's
	// name) if the header has that column, and else "text".
	Text string
	// TextPair is the column of the second text of a sentence-pair task;
	// empty for single sentences.
	TextPair string
	// Label is the column of the label; "label" if empty.
	Label string
	// AllowNoLabel accepts a header without the label column, for unlabeled
	// data to predict: every Example.Label is then "".
	AllowNoLabel bool
}

// An Example is one row of the file.
type Example struct {
	Text, TextPair, Label string
	// Line is the row's line number in the file it was read from.
	Line int
}

// ReadFile reads the file at path (see Read).
func ReadFile(path string, opt Options) ([]Example, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f, path, opt)
}

// Read reads the examples of a tab-separated file whose first line is a
// header naming its columns; name is used in errors, which give the line as
// "name:line: ...". Columns other than the ones opt names are ignored.
//
// It is an error for the file to be empty; for the header to repeat a
// name or lack a column opt needs; for a row to have another number of
// fields than the header, or an empty label; and for a line to be blank or
// not valid UTF-8. A file with only a header gives no examples.
func Read(r io.Reader, name string, opt Options) ([]Example, error) {
	lr := text.NewReader(r, name)
	line, err := lr.Next()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, want a header row", name)
	}
	if err != nil {
		return nil, err
	}
	header := strings.Split(line, "\t")
	cols, err := columns(header, opt)
	if err != nil {
		return nil, lr.Errorf("header: %v", err)
	}
	var examples []Example
	for {
		line, err := lr.Next()
		if err == io.EOF {
			return examples, nil
		}
		if err != nil {
			return nil, err
		}
		if line == "" {
			return nil, lr.Errorf("blank line")
		}
		fields := strings.Split(line, "\t")
		if len(fields) != len(header) {
			return nil, lr.Errorf("%d fields, but the header has %d", len(fields), len(header))
		}
		ex := Example{Text: fields[cols.text], Line: lr.Line()}
		if cols.pair >= 0 {
			ex.TextPair = fields[cols.pair]
		}
		if cols.label >= 0 {
			ex.Label = fields[cols.label]
			if ex.Label == "" {
				return nil, lr.Errorf("empty label")
			}
		}
		examples = append(examples, ex)
	}
}

// columnIndex holds the indexes of the columns read; -1 for none.
type columnIndex struct {
	text, pair, label int
}

// columns finds the columns opt names in header.
func columns(header []string, opt Options) (columnIndex, error) {
	index := make(map[string]int, len(header))
	for i, h := range header {
		if h == "" {
			return columnIndex{}, fmt.Errorf("column %d has no name", i+1)
		}
		if _, dup := index[h]; dup {
			return columnIndex{}, fmt.Errorf("column %q appears twice", h)
		}
		index[h] = i
	}
	find := func(name string) (int, error) {
		if i, ok := index[name]; ok {
			return i, nil
		}
		return -1, fmt.Errorf("no column %q in %q", name, header)
	}
	var (
		cols columnIndex
		err  error
	)
	textName := opt.Text
	if textName == "" {
		textName = "sentence"
		if _, ok := index[textName]; !ok {
			textName = "text"
		}
	}
	if cols.text, err = find(textName); err != nil {
		if opt.Text == "" {
			err = fmt.Errorf("no column %q or %q in %q (set Options.Text)", "sentence", "text", header)
		}
		return cols, err
	}
	cols.pair = -1
	if opt.TextPair != "" {
		if cols.pair, err = find(opt.TextPair); err != nil {
			return cols, err
		}
	}
	labelName := opt.Label
	if labelName == "" {
		labelName = "label"
	}
	cols.label, err = find(labelName)
	if err != nil && opt.AllowNoLabel {
		err = nil
	}
	return cols, err
}

// Write writes a header and rows as tab-separated lines. It is an error for
// the header to be empty, for a row to have not as many fields as the
// header, and for a field to be invalid UTF-8 or hold a tab or line break.
func Write(w io.Writer, header []string, rows [][]string) error {
	if len(header) == 0 {
		return errors.New("tsv: writing: empty header")
	}
	bw := bufio.NewWriter(w)
	if err := writeRow(bw, header, len(header)); err != nil {
		return fmt.Errorf("tsv: writing the header: %w", err)
	}
	for i, row := range rows {
		if err := writeRow(bw, row, len(header)); err != nil {
			return fmt.Errorf("tsv: writing row %d: %w", i+1, err)
		}
	}
	return bw.Flush()
}

func writeRow(bw *bufio.Writer, row []string, n int) error {
	if len(row) != n {
		return fmt.Errorf("%d fields, want %d", len(row), n)
	}
	for i, f := range row {
		if !utf8.ValidString(f) || strings.ContainsAny(f, "\t\r\n") {
			return fmt.Errorf("field %d %q: invalid UTF-8, or a tab or line break", i+1, f)
		}
		if i > 0 {
			bw.WriteByte('\t')
		}
		bw.WriteString(f)
	}
	_, err := bw.WriteString("\n")
	return err
}
