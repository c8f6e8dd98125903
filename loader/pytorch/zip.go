package pytorch

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strings"
)

// readZip reads the zip format torch.save has written since PyTorch 1.6:
// <dir>/data.pkl is the pickled object and <dir>/data/<key> holds the bytes of
// the storage with that key. torch.save names <dir> after the file it writes,
// so, like torch.load, it is taken from the first entry.
func readZip(r io.ReaderAt, size int64) (any, recordLoader, error) {
	zr, err := zip.NewReader(r, size)
	// Entries are only looked up by name, never written to disk, so names
	// that would be unsafe paths do no harm.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, nil, err
	}
	if len(zr.File) == 0 {
		return nil, nil, errors.New("empty zip archive")
	}
	dir, _, ok := strings.Cut(zr.File[0].Name, "/")
	if !ok {
		return nil, nil, fmt.Errorf("zip entry %q is not inside a directory", zr.File[0].Name)
	}
	entries := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		entries[f.Name] = f
	}
	// PyTorch 2.1 and later record the byte order; earlier files are
	// little-endian unless written on a big-endian machine.
	if f := entries[dir+"/byteorder"]; f != nil {
		b, err := readEntry(r, size, f)
		if err != nil {
			return nil, nil, err
		}
		if string(b) != "little" {
			return nil, nil, fmt.Errorf("%s: unsupported byte order %.16q", f.Name, b)
		}
	}
	f := entries[dir+"/data.pkl"]
	if f == nil {
		return nil, nil, fmt.Errorf("no %s/data.pkl in the zip archive", dir)
	}
	pkl, err := readEntry(r, size, f)
	if err != nil {
		return nil, nil, err
	}
	obj, _, err := unpickle(bytes.NewReader(pkl), int64(len(pkl)), loadStorage)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	load := func(key string) ([]byte, error) {
		name := dir + "/data/" + key
		f := entries[name]
		if f == nil {
			return nil, fmt.Errorf("no zip entry %s", name)
		}
		return readEntry(r, size, f)
	}
	return obj, load, nil
}

// readEntry returns the bytes of a zip entry, which must be stored
// uncompressed, as torch.save writes them. The entry's extent is checked
// against the file size before anything is allocated, and it is read with one
// ReadAt. Its CRC-32 is checked when set: PyTorch 2.5 and later may leave it
// zero.
func readEntry(r io.ReaderAt, size int64, f *zip.File) ([]byte, error) {
	if f.Method != zip.Store {
		return nil, fmt.Errorf("%s: compressed zip entries (method %d) are not supported", f.Name, f.Method)
	}
	off, err := f.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	n := f.UncompressedSize64
	if f.CompressedSize64 != n || off < 0 || off > size || n > uint64(size-off) {
		return nil, fmt.Errorf("%s: %d bytes at offset %d do not fit in the file (%d bytes)", f.Name, n, off, size)
	}
	buf := make([]byte, n)
	if err := readFullAt(r, buf, off); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	if f.CRC32 != 0 && crc32.ChecksumIEEE(buf) != f.CRC32 {
		return nil, fmt.Errorf("%s: %w", f.Name, zip.ErrChecksum)
	}
	return buf, nil
}
