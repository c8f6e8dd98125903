package tokenizer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Files are the tokenizer files a checkpoint directory may hold, which jobs
// copy into the checkpoints they write.
var Files = []string{"tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt"}

// ReadFiles reads those of Files that dir holds, by name. It is an error when
// dir holds none of them.
func ReadFiles(dir string) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, f := range Files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		files[f] = b
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s holds no tokenizer files (%v)", dir, Files)
	}
	return files, nil
}
