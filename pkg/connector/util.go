package connector

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func itoa(i int) string { return strconv.Itoa(i) }

// jsonText shows a decoded JSON value the way it was written.
func jsonText(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(raw)
}
