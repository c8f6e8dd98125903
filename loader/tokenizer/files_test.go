package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFiles(dir); err == nil || !strings.Contains(err.Error(), "holds no tokenizer files") {
		t.Errorf("empty directory: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte("[PAD]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("not a tokenizer file"), 0o644)
	files, err := ReadFiles(dir)
	if err != nil || len(files) != 1 || string(files["vocab.txt"]) != "[PAD]\n" {
		t.Errorf("got %v, %v", files, err)
	}
}
