package checkpoints

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDirWritesTheCheckpointOnce(t *testing.T) {
	t.Setenv("HIERTUNE_CACHE", t.TempDir())
	dir, err := Dir(Default)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "README.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	again, err := Dir(Default)
	if err != nil || again != dir {
		t.Fatalf("second call gave %q, %v", again, err)
	}
	if _, err := Dir("nope"); err == nil {
		t.Fatal("an unknown name gave no error")
	}
}
