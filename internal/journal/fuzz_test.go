package journal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReplay is item 4 of issue 9: a journal cut short, with bits flipped,
// records duplicated and records reordered. Replay never panics, never
// invents an entry, and processes every record whose bytes are intact.
func FuzzReplay(f *testing.F) {
	f.Add(uint8(5), []byte{})                                   // clean
	f.Add(uint8(6), []byte{1, 40, 0})                           // one bit flip early
	f.Add(uint8(6), []byte{0, 200, 0})                          // truncated
	f.Add(uint8(8), []byte{2, 1, 3, 3, 0, 4})                   // duplicate, then swap
	f.Add(uint8(9), []byte{1, 20, 1, 1, 90, 2, 3, 2, 5})        // flips and a swap
	f.Add(uint8(12), []byte{1, 9, 4, 1, 10, 4, 1, 11, 4})       // a header wiped
	f.Add(uint8(3), []byte{2, 0, 0, 2, 0, 0, 2, 0, 0, 0, 5, 1}) // many copies, then cut
	f.Fuzz(func(t *testing.T, count uint8, ops []byte) {
		pieces := generateRecords(int(count%16) + 1)
		// Record-level changes: duplicate and reorder whole records.
		var byteOps [][3]byte
		for len(ops) >= 3 {
			op := [3]byte{ops[0], ops[1], ops[2]}
			ops = ops[3:]
			switch op[0] % 4 {
			case 2: // duplicate piece a at position b
				a, b := int(op[1])%len(pieces), int(op[2])%(len(pieces)+1)
				pieces = append(pieces[:b], append([][]byte{pieces[a]}, pieces[b:]...)...)
			case 3: // swap two pieces
				a, b := int(op[1])%len(pieces), int(op[2])%len(pieces)
				pieces[a], pieces[b] = pieces[b], pieces[a]
			default:
				byteOps = append(byteOps, op)
			}
		}
		file := []byte(magic)
		starts := make([]int, len(pieces))
		for i, p := range pieces {
			starts[i] = len(file)
			file = append(file, p...)
		}
		// Byte-level changes: bit flips (0) and truncation (1).
		touched := make([]bool, len(file))
		for _, op := range byteOps {
			at := len(magic) + (int(op[1])<<8|int(op[2]))%max(len(file)-len(magic), 1)
			if at >= len(file) {
				continue
			}
			if op[0]%4 == 0 {
				file[at] ^= 1 << (op[2] % 8)
				touched[at] = true
			} else {
				file = file[:at]
			}
		}
		intact := func(i int) bool {
			end := starts[i] + len(pieces[i])
			if end > len(file) {
				return false
			}
			for _, hit := range touched[starts[i]:end] {
				if hit {
					return false
				}
			}
			return true
		}

		visited := map[int64]bool{}
		scan(file, func(rec record) { visited[rec.offset] = true })
		for i := range pieces {
			if intact(i) && !visited[int64(starts[i])] {
				t.Errorf("intact record %d at offset %d was not processed", i, starts[i])
			}
		}

		// The whole replay, through Open, on a real file.
		path := filepath.Join(t.TempDir(), "journal")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		j, entries, err := Open(path, Options{Warn: func(error) {}})
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		completedSomewhere := map[uint64]bool{}
		for _, p := range pieces {
			if p[headerSize] == kindComplete {
				completedSomewhere[seqOf(p)] = true
			}
		}
		replayed := map[uint64]bool{}
		for _, e := range entries {
			if !bytes.Equal(e.Data, payloadFor(e.Seq)) {
				t.Errorf("replay invented entry %d: %q", e.Seq, e.Data)
			}
			replayed[e.Seq] = true
		}
		for i, p := range pieces {
			if p[headerSize] == kindEntry && intact(i) && !completedSomewhere[seqOf(p)] && !replayed[seqOf(p)] {
				t.Errorf("intact entry %d (record %d) was not replayed", seqOf(p), i)
			}
		}
	})
}

// generateRecords makes n records: entries with distinct payloads, a mark
// and a completion now and then.
func generateRecords(n int) [][]byte {
	var records [][]byte
	for seq := uint64(1); len(records) < n; seq++ {
		records = append(records, appendRecord(nil, kindEntry, seq, payloadFor(seq)))
		if seq%2 == 0 && len(records) < n {
			records = append(records, appendRecord(nil, kindMark, seq, []byte("emitted")))
		}
		if seq%3 == 0 && len(records) < n {
			records = append(records, appendRecord(nil, kindComplete, seq-1, nil))
		}
	}
	return records
}

func payloadFor(seq uint64) []byte {
	return []byte(fmt.Sprintf("entry %d: %s", seq, bytes.Repeat([]byte{'a' + byte(seq%26)}, int(seq%7)*5)))
}

func seqOf(record []byte) uint64 {
	return uint64(record[headerSize+1]) | uint64(record[headerSize+2])<<8
}
