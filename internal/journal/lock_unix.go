//go:build unix

package journal

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive, non-blocking advisory lock: two listeners
// appending to one journal would interleave records.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
