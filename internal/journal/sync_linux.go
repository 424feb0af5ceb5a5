package journal

import (
	"os"
	"syscall"
)

// datasync flushes the file's data without its timestamps; the size does not
// change because records go into space reserved (and synced) beforehand.
func datasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
