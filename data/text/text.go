// Package text reads plain-text files line by line: any size, any line
// length, never a whole file in memory, with UTF-8 checked and errors that
// name the file and line. The dataset readers (CoNLL-U, CoNLL, TSV) and the
// pretraining corpus reader are built on it.
package text

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Stop, returned by a Lines callback, ends the reading without error.
var Stop = errors.New("stop reading")

// Reader reads the lines of one file.
type Reader struct {
	r    *bufio.Reader
	name string
	n    int // number of the line last returned
}

// NewReader returns a Reader of r; name (a file name) prefixes its errors.
func NewReader(r io.Reader, name string) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 1<<16), name: name}
}

// Next returns the next line without its "\n" or "\r\n" ending, or io.EOF
// after the last one. A byte-order mark starting the file is dropped. A
// line that is not valid UTF-8, or that holds a
// carriage return other than in its ending, is an error naming the file and
// the line (so that a file read and written back is unchanged).
func (r *Reader) Next() (string, error) {
	line, err := r.r.ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("%s:%d: %w", r.name, r.n+1, err)
	}
	if line == "" {
		return "", io.EOF
	}
	r.n++
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if r.n == 1 {
		line = strings.TrimPrefix(line, "\uFEFF") // a byte-order mark
	}
	if i := invalidUTF8(line); i >= 0 {
		return "", r.Errorf("invalid UTF-8 at byte %d of the line", i+1)
	}
	if strings.Contains(line, "\r") {
		return "", r.Errorf("carriage return inside the line")
	}
	return line, nil
}

// Line returns the number of the line Next returned last (from 1).
func (r *Reader) Line() int { return r.n }

// Errorf returns an error about the line Next returned last, prefixed with
// "file:line: ".
func (r *Reader) Errorf(format string, args ...any) error { return r.ErrorAt(r.n, format, args...) }

// ErrorAt returns an error about line n.
func (r *Reader) ErrorAt(n int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", r.name, n, fmt.Sprintf(format, args...))
}

// Lines calls fn with every line of the files in turn (as Next returns
// them; a blank line as ""), with the file and the 1-based line number. An
// error from fn is returned as is, except Stop, which ends the reading.
func Lines(files []string, fn func(line, file string, number int) error) error {
	for _, path := range files {
		if err := lines(path, fn); err != nil {
			if errors.Is(err, Stop) {
				return nil
			}
			return err
		}
	}
	return nil
}

func lines(path string, fn func(line, file string, number int) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := NewReader(f, path)
	for {
		line, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(line, path, r.Line()); err != nil {
			return err
		}
	}
}

// invalidUTF8 returns the offset of the first byte of s that is not valid
// UTF-8, or -1.
func invalidUTF8(s string) int {
	if utf8.ValidString(s) {
		return -1
	}
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 {
			return i
		}
		i += w
	}
	return -1
}
