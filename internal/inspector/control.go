package inspector

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Control is how other hookctl processes reach a running listener's
// inspector (hookctl events replay): written beside the history while the
// listener runs, mode 0600, removed when it stops.
type Control struct {
	URL     string `json:"url"`
	Token   string `json:"token,omitempty"`
	Session string `json:"session"`
	PID     int    `json:"pid"`
}

// ControlPath is the control file of the history at historyPath.
func ControlPath(historyPath string) string {
	return strings.TrimSuffix(historyPath, filepath.Ext(historyPath)) + ".inspector"
}

// WriteControl writes c to path, readable by its owner only.
func WriteControl(path string, c Control) error {
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadControl reads the control file at path; os.ErrNotExist means no
// listener is running there (or it was started with --history 0).
func ReadControl(path string) (Control, error) {
	var c Control
	data, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil || c.URL == "" {
		return c, fmt.Errorf("%s is not an inspector control file", path)
	}
	return c, nil
}
