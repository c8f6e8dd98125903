package pytorch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/hiertune/hiertune/tensor"
)

// legacyMagic and legacyProtocol open every file in the legacy format.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

const legacyProtocol = 1001

// readLegacy reads the format torch.save wrote before PyTorch 1.6 (and still
// writes with _use_new_zipfile_serialization=False): five pickles in a row,
// the magic number, the protocol version, system information, the object and
// the list of storage keys, followed by each listed storage as a
// little-endian int64 element count and the raw bytes.
func readLegacy(r io.ReaderAt, size int64) (any, recordLoader, error) {
	off := int64(0)
	next := func(what string, load persistentLoader) (any, error) {
		v, n, err := unpickle(io.NewSectionReader(r, off, size-off), size-off, load)
		if err != nil {
			return nil, fmt.Errorf("%s pickle at offset %d: %w", what, off, err)
		}
		off += n
		return v, nil
	}

	magic, err := next("magic number", nil)
	if err != nil {
		return nil, nil, err
	}
	if m, ok := magic.(*big.Int); !ok || m.Cmp(legacyMagic) != 0 {
		return nil, nil, errors.New("not a torch.save file: no legacy magic number")
	}
	protocol, err := next("protocol version", nil)
	if err != nil {
		return nil, nil, err
	}
	if protocol != any(int64(legacyProtocol)) {
		return nil, nil, fmt.Errorf("unsupported legacy protocol version %s", describe(protocol))
	}
	info, err := next("system info", nil)
	if err != nil {
		return nil, nil, err
	}
	if d, ok := info.(*dict); !ok || d.m["little_endian"] != true {
		return nil, nil, errors.New("system info does not say little-endian; only little-endian files are supported")
	}

	// The element size of each storage, needed to size its record, comes
	// from the first reference to it, as in torch.load.
	dtypes := make(map[string]tensor.DType)
	obj, err := next("object", func(pid any) (any, error) {
		v, err := loadStorage(pid)
		if s, ok := v.(*storage); ok {
			if _, seen := dtypes[s.key]; !seen {
				dtypes[s.key] = s.dtype
			}
		}
		return v, err
	})
	if err != nil {
		return nil, nil, err
	}
	keyList, err := next("storage keys", nil)
	if err != nil {
		return nil, nil, err
	}
	keys, ok := keyList.(*list)
	if !ok {
		return nil, nil, fmt.Errorf("storage keys are %s, not a list", typeName(keyList))
	}

	type extent struct{ off, n int64 }
	records := make(map[string]extent, len(keys.items))
	for _, k := range keys.items {
		key, ok := k.(string)
		if !ok {
			return nil, nil, fmt.Errorf("storage key is %s, not a str", typeName(k))
		}
		dt, ok := dtypes[key]
		if !ok {
			return nil, nil, fmt.Errorf("storage %q is listed but no tensor uses it", key)
		}
		if _, dup := records[key]; dup {
			return nil, nil, fmt.Errorf("storage %q is listed twice", key)
		}
		var head [8]byte
		if err := readFullAt(r, head[:], off); err != nil {
			return nil, nil, fmt.Errorf("storage %q at offset %d: %w", key, off, err)
		}
		off += 8
		count := int64(binary.LittleEndian.Uint64(head[:]))
		elem, _ := dt.Size()
		if count < 0 || count > (size-off)/int64(elem) {
			return nil, nil, fmt.Errorf("storage %q at offset %d: %d elements of %s do not fit in the file", key, off-8, count, dt)
		}
		records[key] = extent{off, count * int64(elem)}
		off += count * int64(elem)
	}

	load := func(key string) ([]byte, error) {
		e, ok := records[key]
		if !ok {
			return nil, fmt.Errorf("storage %q is not in the file's storage list", key)
		}
		buf := make([]byte, e.n)
		if err := readFullAt(r, buf, e.off); err != nil {
			return nil, fmt.Errorf("storage %q: %w", key, err)
		}
		return buf, nil
	}
	return obj, load, nil
}
