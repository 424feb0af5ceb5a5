//go:build !unix

package auth

import "os"

// tryLock has no cross-process lock on this platform: the cache still writes
// atomically (temporary file and rename), so a reader never sees half a file,
// but two hookctl processes refreshing at the same moment may each keep their
// own refresh token (the last write wins; both stay valid).
func tryLock(*os.File, bool) (bool, error) { return true, nil }

func unlock(*os.File) error { return nil }
