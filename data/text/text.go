// Package text reads plain-text corpora line by line: any size, any line
// length, never a whole file in memory, with UTF-8 checked.
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

// Lines calls fn with every line of the files in turn (without its "\n" or
// "\r\n" ending; a blank line as ""), with the file and the 1-based line
// number. A line that is not valid UTF-8 is an error naming the file, the
// line and the byte; an error from fn is returned as is, except Stop.
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
	r := bufio.NewReaderSize(f, 1<<20)
	for n := 1; ; n++ {
		line, err := r.ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if line == "" && err == io.EOF {
			return nil
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if i := invalidUTF8(line); i >= 0 {
			return fmt.Errorf("%s:%d: invalid UTF-8 at byte %d of the line", path, n, i+1)
		}
		if ferr := fn(line, path, n); ferr != nil {
			return ferr
		}
		if err == io.EOF {
			return nil
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
