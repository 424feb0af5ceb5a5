package journal

import (
	"encoding/binary"
	"hash/crc32"
)

// record is one whole, checked record found by scan.
type record struct {
	offset int64 // of the header
	length int64 // header included
	kind   byte
	seq    uint64
	body   []byte // the payload (after kind and seq)
}

// damage is a stretch of bytes between intact records that scan skipped.
type damage struct {
	offset, length int64
	// recordsAfter counts the intact records between this damage and the next
	// (or the end): what skipping, rather than truncating, kept.
	recordsAfter int
}

// scan walks the records in data (the whole file, header included) and
// visits every intact one in file order. A record that fails its check is
// skipped by searching forward for the next intact record; if one is found,
// the bytes in between are reported as damage, otherwise they are the tail
// (a record torn by a crash mid-write, or the zero-filled reserve) and end is
// where the last intact record ends. scan never allocates per record and never
// trusts a length it has not checked against the CRC.
func scan(data []byte, visit func(record)) (end int64, damaged []damage) {
	offset := int64(len(magic))
	for offset < int64(len(data)) {
		if rec, ok := readRecord(data, offset); ok {
			visit(rec)
			if len(damaged) > 0 {
				damaged[len(damaged)-1].recordsAfter++
			}
			offset += rec.length
			continue
		}
		next := resync(data, offset+1)
		if next < 0 {
			break
		}
		damaged = append(damaged, damage{offset: offset, length: next - offset})
		offset = next
	}
	return min(offset, int64(len(data))), damaged
}

// resync finds the first offset at or after from where an intact record
// starts, or -1.
func resync(data []byte, from int64) int64 {
	for at := from; at+headerSize+9 <= int64(len(data)); at++ {
		if _, ok := readRecord(data, at); ok {
			return at
		}
	}
	return -1
}

// readRecord checks the record at offset: a plausible length that fits, a
// known kind, and a matching CRC-32C.
func readRecord(data []byte, offset int64) (record, bool) {
	if offset+headerSize > int64(len(data)) {
		return record{}, false
	}
	header := data[offset : offset+headerSize]
	length := int64(binary.LittleEndian.Uint32(header[0:4]))
	if length < 9 || length > maxRecord || offset+headerSize+length > int64(len(data)) {
		return record{}, false
	}
	body := data[offset+headerSize : offset+headerSize+length]
	switch body[0] {
	case kindEntry, kindMark, kindComplete, kindPad, kindMemo:
	default:
		return record{}, false
	}
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(header[4:8]) {
		return record{}, false
	}
	return record{
		offset: offset,
		length: headerSize + length,
		kind:   body[0],
		seq:    binary.LittleEndian.Uint64(body[1:9]),
		body:   body[9:],
	}, true
}
