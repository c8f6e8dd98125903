package pytorch

import (
	"bytes"
	"fmt"

	"github.com/hiertune/hiertune/tensor"
)

// maxDims bounds a tensor's rank; it keeps error messages about corrupt sizes
// short (PyTorch itself never gets near it).
const maxDims = 64

// contiguous returns t's elements as row-major bytes. rec is the whole record
// of t's storage. When t covers all of rec in order and mayAlias is set, rec
// itself is returned and aliased is true; otherwise the bytes are a copy.
func (t *tensorRef) contiguous(rec []byte, mayAlias bool) (data []byte, aliased bool, err error) {
	s := t.storage
	if s.offset > len(rec) || s.nbytes > len(rec)-s.offset {
		return nil, false, fmt.Errorf("storage %q needs %d bytes at offset %d, its record has %d",
			s.key, s.nbytes, s.offset, len(rec))
	}
	buf := rec[s.offset : s.offset+s.nbytes]
	size, _ := s.dtype.Size()
	numel, err := t.check(len(buf) / size)
	if err != nil {
		return nil, false, fmt.Errorf("storage %q: %w", s.key, err)
	}
	if numel == 0 {
		return []byte{}, false, nil
	}
	shape, stride := coalesce(t.shape, t.stride)
	if len(shape) == 0 || (len(shape) == 1 && stride[0] == 1) {
		b := buf[t.offset*size : (t.offset+numel)*size]
		if mayAlias && len(b) == len(rec) {
			return rec, true, nil
		}
		return bytes.Clone(b), false, nil
	}
	out := make([]byte, numel*size)
	gather(out, buf, size, t.offset, shape, stride)
	return out, false, nil
}

// check checks t's geometry against a storage of n elements and returns t's
// element count. Every element t addresses must lie in the storage, and t may
// not have more elements than the storage: a broadcast (stride 0) view
// larger than its storage could otherwise allocate without bound. No
// intermediate value can overflow: each is bounded by n.
func (t *tensorRef) check(n int) (int, error) {
	if len(t.shape) > maxDims || len(t.shape) != len(t.stride) {
		return 0, fmt.Errorf("invalid view: %d sizes, %d strides", len(t.shape), len(t.stride))
	}
	if t.offset < 0 {
		return 0, fmt.Errorf("negative storage offset %d", t.offset)
	}
	for i, d := range t.shape {
		if d < 0 || t.stride[i] < 0 {
			return 0, fmt.Errorf("negative value in size %v or stride %v", t.shape, t.stride)
		}
	}
	numel := tensor.NumElements(t.shape)
	if numel == 0 {
		return 0, nil
	}
	if numel < 0 {
		return 0, fmt.Errorf("view of size %v has more elements than its storage (%d): the count overflows an int", t.shape, n)
	}
	if numel > n {
		return 0, fmt.Errorf("view of size %v has more elements than its storage (%d)", t.shape, n)
	}
	last := t.offset // the last element the view reads
	if last >= n {
		return 0, fmt.Errorf("storage offset %d is past the end of its storage (%d elements)", t.offset, n)
	}
	for i, d := range t.shape {
		if d > 1 && t.stride[i] > (n-1-last)/(d-1) {
			return 0, fmt.Errorf("view at offset %d with size %v and stride %v reads past the end of its storage (%d elements)",
				t.offset, t.shape, t.stride, n)
		}
		if d > 1 {
			last += (d - 1) * t.stride[i]
		}
	}
	return numel, nil
}

// coalesce drops the dimensions of size 1 and merges neighbours that are laid
// out contiguously, so a contiguous view ends up with at most one dimension,
// of stride 1. The view must be checked and not empty.
func coalesce(shape, stride []int) (outShape, outStride []int) {
	for i, d := range shape {
		if d == 1 {
			continue
		}
		if n := len(outShape); n > 0 && outStride[n-1] == stride[i]*d {
			outShape[n-1] *= d
			outStride[n-1] = stride[i]
			continue
		}
		outShape = append(outShape, d)
		outStride = append(outStride, stride[i])
	}
	return outShape, outStride
}

// gather copies the strided view (offset, shape, stride), counted in elements
// of size bytes, from src to dst in row-major order. The view must be
// checked, not empty and have at least one dimension.
func gather(dst, src []byte, size, offset int, shape, stride []int) {
	last := len(shape) - 1
	n, step := shape[last], stride[last]
	idx := make([]int, last) // index over the outer dimensions
	for pos, base := 0, offset; ; {
		if step == 1 {
			pos += copy(dst[pos:], src[base*size:(base+n)*size])
		} else {
			for j := range n {
				p := (base + j*step) * size
				pos += copy(dst[pos:pos+size], src[p:p+size])
			}
		}
		k := last - 1
		for ; k >= 0; k-- {
			idx[k]++
			base += stride[k]
			if idx[k] < shape[k] {
				break
			}
			base -= stride[k] * shape[k]
			idx[k] = 0
		}
		if k < 0 {
			return
		}
	}
}
