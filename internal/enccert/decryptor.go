package enccert

import (
	"fmt"

	"github.com/hookctl/hookctl/pkg/notification"
)

// KeyFile is a private key to decrypt with: a PEM or PKCS#12 file holding a
// certificate and its key, and the .pfx password ("" for none).
type KeyFile struct {
	Path, Password string
}

// NewDecryptor returns a Decryptor holding every key pair hookctl made in
// stateDir (all profiles') and the keys of files. A file without a private
// key, or unreadable, is an error: the user named it to decrypt with. An
// unreadable pair of hookctl's own is skipped and reported in skipped.
func NewDecryptor(stateDir string, files []KeyFile) (d *notification.Decryptor, skipped error, err error) {
	d = &notification.Decryptor{}
	owned, skipped := Owned(stateDir)
	for _, pair := range owned {
		d.Add(pair.ID, pair.Cert, pair.Key)
	}
	for _, file := range files {
		pair, err := Load(file.Path, file.Password)
		if err != nil {
			return nil, skipped, err
		}
		if pair.Key == nil {
			return nil, skipped, fmt.Errorf("%s holds no private key: give the file with the certificate's key", file.Path)
		}
		d.Add(pair.ID, pair.Cert, pair.Key)
	}
	return d, skipped, nil
}
