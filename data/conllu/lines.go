package conllu

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// lineReader reads lines numbered from 1, without their "\n" or "\r\n"
// ending, each checked to be valid UTF-8 with no other carriage return (so
// that what is read can be written back unchanged). A byte-order mark at the
// start of the input is dropped.
type lineReader struct {
	r    *bufio.Reader
	name string
	n    int // number of the line last returned
}

func newLineReader(r io.Reader, name string) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 1<<16), name: name}
}

// next returns the next line, or io.EOF after the last one.
func (lr *lineReader) next() (string, error) {
	line, err := lr.r.ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("%s:%d: %w", lr.name, lr.n+1, err)
	}
	if line == "" {
		return "", io.EOF
	}
	lr.n++
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if lr.n == 1 {
		line = strings.TrimPrefix(line, "\uFEFF")
	}
	if i := invalidUTF8(line); i >= 0 {
		return "", lr.errorf("invalid UTF-8 at byte %d of the line", i+1)
	}
	if strings.Contains(line, "\r") {
		return "", lr.errorf("carriage return inside the line")
	}
	return line, nil
}

// errorf returns an error about the line last returned.
func (lr *lineReader) errorf(format string, args ...any) error {
	return lr.errorAt(lr.n, format, args...)
}

// errorAt returns an error about line n.
func (lr *lineReader) errorAt(n int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", lr.name, n, fmt.Sprintf(format, args...))
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
