// Package checkpoints embeds the checkpoints that ship inside the hiertune
// binary, so that it runs on a fresh machine without downloading anything.
//
// Each checkpoint is a HuggingFace directory (config.json, weights,
// tokenizer files and a README.md model card). Dir writes one out to a
// cache directory the first time it is needed and returns its path.
package checkpoints

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/hiertune/hiertune/internal/atomicfile"
)

//go:embed tiny-random default deep
var files embed.FS

// Default is the name of the checkpoint used when none is given.
const Default = "default"

// Names returns the names of the embedded checkpoints.
func Names() []string {
	ents, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// Dir returns a directory holding the named embedded checkpoint, writing it
// under the user's cache directory (or $HIERTUNE_CACHE) the first time. The
// directory name includes a hash of the contents, so a binary with other
// weights never reads stale files.
func Dir(name string) (string, error) {
	ents, err := fs.ReadDir(files, name)
	if err != nil {
		return "", fmt.Errorf("no embedded checkpoint %q (have %v)", name, Names())
	}
	h := sha256.New()
	for _, e := range ents {
		b, err := files.ReadFile(name + "/" + e.Name())
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", e.Name(), len(b))
		h.Write(b)
	}
	root, err := cacheRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "checkpoints", name+"-"+hex.EncodeToString(h.Sum(nil))[:12])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, e := range ents {
		dst := filepath.Join(dir, e.Name())
		b, _ := files.ReadFile(name + "/" + e.Name())
		if st, err := os.Stat(dst); err == nil && st.Size() == int64(len(b)) {
			continue
		}
		if err := atomicfile.Write(dst, b); err != nil {
			return "", err
		}
	}
	return dir, nil
}

func cacheRoot() (string, error) {
	if d := os.Getenv("HIERTUNE_CACHE"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory for the embedded checkpoints (set HIERTUNE_CACHE): %w", err)
	}
	return filepath.Join(d, "hiertune"), nil
}
