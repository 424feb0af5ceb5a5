package listen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hookctl/hookctl/internal/eventhub"
)

// hub shows the Event Hubs intake's events: which partitions this listener
// reads (a result: a JSON line with -o json), and what it skipped (stderr).
func (r *renderer) hub(e eventhub.Event) {
	es := r.io.ErrScheme()
	switch e := e.(type) {
	case eventhub.Partitions:
		if r.json {
			r.jsonLine(e.Kind(), e)
			return
		}
		r.note(fmt.Sprintf("%s event hub partitions: reading %s (assigned %s, revoked %s)", es.SuccessIcon(), partitionList(e.Held), partitionList(e.Assigned), partitionList(e.Revoked)))
	case eventhub.TestMessage:
		r.note(fmt.Sprintf("%s skipped Graph's test message (subscriptionId NA) at partition %d offset %d: a subscription was made", es.SuccessIcon(), e.Partition, e.Offset))
	case eventhub.Skipped:
		r.note(fmt.Sprintf("%s skipped the message at partition %d offset %d: not a notification collection (%s)", es.WarningIcon(), e.Partition, e.Offset, printable(e.Reason)))
	}
}

func partitionList(ps []int32) string {
	if len(ps) == 0 {
		return "none"
	}
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = strconv.Itoa(int(p))
	}
	return strings.Join(parts, ",")
}
