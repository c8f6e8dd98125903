package distill

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// Cache keeps a frozen teacher's outputs on disk, per output (a task's
// scores) and example, so that later epochs read them instead of running
// the teacher. Each output is an append-only file of records
//
//	key uint32 | rows uint32 | cols uint32 | rows·cols float32
//
// (little-endian), indexed in memory when opened. A record cut short by a
// crash is dropped when the file is next opened; the rest stays valid, as
// the teacher computes the same values again.
type Cache struct {
	dir   string
	files map[string]*cacheFile
}

type cacheFile struct {
	f     *os.File
	size  int64
	index map[int]cacheEntry
}

type cacheEntry struct {
	offset     int64 // of the values
	rows, cols int
}

const recordHeader = 12

// OpenCache opens (creating it if needed) the cache in dir. The teacher
// string identifies the teacher: a cache made by another teacher is
// emptied.
func OpenCache(dir, teacher string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	id := filepath.Join(dir, "teacher")
	if b, err := os.ReadFile(id); err != nil || string(b) != teacher {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return nil, err
			}
		}
		if err := os.WriteFile(id, []byte(teacher), 0o644); err != nil {
			return nil, err
		}
	}
	return &Cache{dir: dir, files: map[string]*cacheFile{}}, nil
}

// Close closes the cache's files.
func (c *Cache) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.f.Close())
	}
	return errors.Join(errs...)
}

// file opens the file of an output, indexing its records.
func (c *Cache) file(output string) (*cacheFile, error) {
	if f, ok := c.files[output]; ok {
		return f, nil
	}
	if output == "" || output == "teacher" || strings.ContainsAny(output, `/\`) {
		return nil, fmt.Errorf("teacher cache: invalid output name %q", output)
	}
	path := filepath.Join(c.dir, output+".bin")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	cf := &cacheFile{f: f, index: map[int]cacheEntry{}}
	var head [recordHeader]byte
	for cf.size+recordHeader <= st.Size() {
		if _, err := f.ReadAt(head[:], cf.size); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		key := int(binary.LittleEndian.Uint32(head[0:]))
		rows, cols := int(binary.LittleEndian.Uint32(head[4:])), int(binary.LittleEndian.Uint32(head[8:]))
		left := (st.Size() - cf.size - recordHeader) / 4 // values the file still holds
		if cols > 0 && int64(rows) > left/int64(cols) {
			break // cut short (or garbage): dropped below
		}
		end := cf.size + recordHeader + 4*int64(rows)*int64(cols)
		cf.index[key] = cacheEntry{offset: cf.size + recordHeader, rows: rows, cols: cols}
		cf.size = end
	}
	if cf.size < st.Size() { // a record cut short
		if err := f.Truncate(cf.size); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	c.files[output] = cf
	return cf, nil
}

// Get returns the rows×cols values cached for an example's output, or
// ok = false.
func (c *Cache) Get(output string, key int) (values []float32, rows, cols int, ok bool, err error) {
	f, err := c.file(output)
	if err != nil {
		return nil, 0, 0, false, err
	}
	e, ok := f.index[key]
	if !ok {
		return nil, 0, 0, false, nil
	}
	buf := make([]byte, 4*e.rows*e.cols)
	if _, err := f.f.ReadAt(buf, e.offset); err != nil && err != io.EOF {
		return nil, 0, 0, false, fmt.Errorf("teacher cache %s: %w", output, err)
	}
	values = make([]float32, e.rows*e.cols)
	for i := range values {
		values[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return values, e.rows, e.cols, true, nil
}

// Put stores an example's output, rows×cols values.
func (c *Cache) Put(output string, key int, values []float32, rows, cols int) error {
	if key < 0 || rows < 0 || cols < 0 || len(values) != rows*cols || key > math.MaxUint32 {
		return fmt.Errorf("teacher cache %s: example %d: %d values for %d×%d", output, key, len(values), rows, cols)
	}
	f, err := c.file(output)
	if err != nil {
		return err
	}
	buf := make([]byte, recordHeader+4*len(values))
	binary.LittleEndian.PutUint32(buf[0:], uint32(key))
	binary.LittleEndian.PutUint32(buf[4:], uint32(rows))
	binary.LittleEndian.PutUint32(buf[8:], uint32(cols))
	for i, v := range values {
		binary.LittleEndian.PutUint32(buf[recordHeader+4*i:], math.Float32bits(v))
	}
	if _, err := f.f.WriteAt(buf, f.size); err != nil {
		return fmt.Errorf("teacher cache %s: %w", output, err)
	}
	f.index[key] = cacheEntry{offset: f.size + recordHeader, rows: rows, cols: cols}
	f.size += int64(len(buf))
	return nil
}
