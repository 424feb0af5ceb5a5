package eventhub

// The events a Consumer adds to the listener's stream.

// Partitions says which of the hub's partitions this member now reads:
// Assigned and Revoked are the change, Held what it holds after it.
type Partitions struct {
	Assigned []int32 `json:"assigned"`
	Revoked  []int32 `json:"revoked"`
	Held     []int32 `json:"held"`
}

// TestMessage is the "NA" message Graph puts on the hub for each new
// subscription; it is counted and skipped.
type TestMessage struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

// Skipped is a message that is not a notification collection: reported,
// and its offset committed with the rest.
type Skipped struct {
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Reason    string `json:"reason"`
}

// Kind implements listener.Event.
func (Partitions) Kind() string { return "partitions" }

// Kind implements listener.Event.
func (TestMessage) Kind() string { return "hub-test-message" }

// Kind implements listener.Event.
func (Skipped) Kind() string { return "hub-skipped" }

// Event is one of the events above.
type Event interface {
	Kind() string
	hubEvent()
}

func (Partitions) hubEvent()  {}
func (TestMessage) hubEvent() {}
func (Skipped) hubEvent()     {}
