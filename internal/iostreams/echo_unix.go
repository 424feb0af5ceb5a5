//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package iostreams

import (
	"os"

	"golang.org/x/sys/unix"
)

// echoOff turns the terminal's echo off (keeping line editing and Ctrl-C)
// and returns the function that puts the terminal back as it was.
func echoOff(f *os.File) (restore func(), err error) {
	fd := int(f.Fd())
	saved, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return nil, err
	}
	noEcho := *saved
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &noEcho); err != nil {
		return nil, err
	}
	return func() { _ = unix.IoctlSetTermios(fd, ioctlSetTermios, saved) }, nil
}
