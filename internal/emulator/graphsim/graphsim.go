// Package graphsim emulates the Microsoft Graph v1.0 API hookctl uses (mail,
// events, contacts, drive roots, Teams messages, users and groups, and
// subscriptions to them), including change-notification delivery.
package graphsim

import (
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/hookctl/hookctl/internal/emulator/tenant"
)

// Defaults for Config's knobs; they follow what Microsoft documents.
const (
	DefaultBatchWindow       = 250 * time.Millisecond
	DefaultRetryBase         = 30 * time.Second
	DefaultMaxAttempts       = 10 // 30 s doubling: about 4 hours of retries, as Graph does
	DefaultDeliveryTimeout   = 3 * time.Second
	DefaultValidationTimeout = 10 * time.Second
	DefaultMaxBatchSize      = 100
	DefaultConcurrentPosts   = 8
	// MessageMaxLifetime is the longest an Outlook message subscription may live.
	MessageMaxLifetime = 10080 * time.Minute
	// RichMessageMaxLifetime applies when includeResourceData is true.
	RichMessageMaxLifetime = 1440 * time.Minute
)

// Faults are failures injected on purpose. Rates are fractions between 0 and 1.
type Faults struct {
	// Latency is added before every Graph API answer.
	Latency Duration `json:"latency"`
	// ThrottleRate is the share of Graph API requests answered with ThrottleStatus.
	ThrottleRate float64 `json:"throttleRate"`
	// ThrottleStatus is 429 (default), 503 or 504.
	ThrottleStatus int `json:"throttleStatus"`
	// RetryAfter is sent in the Retry-After header of throttled answers (default 1 s).
	RetryAfter Duration `json:"retryAfter"`
	// DropRate is the share of change notifications silently dropped; each drop
	// is followed by a `missed` lifecycle event.
	DropRate float64 `json:"dropRate"`
	// DuplicateRate is the share of notification POSTs delivered a second time.
	DuplicateRate float64 `json:"duplicateRate"`
}

// Config configures a Server. Only Tenant and Auth are required.
type Config struct {
	Tenant *tenant.Tenant
	Auth   tenant.Authenticator
	// DeliveryClient POSTs validation requests and notifications (a plain client by default).
	DeliveryClient *http.Client
	Logger         *slog.Logger
	Now            func() time.Time

	// BatchWindow is how long changes are gathered before one POST carries them.
	BatchWindow time.Duration
	// MaxBatchSize caps the notifications in one POST.
	MaxBatchSize int
	// ConcurrentPosts caps the POSTs in flight to one notification URL.
	ConcurrentPosts int
	// RetryBase is the first retry delay; each later one doubles it.
	RetryBase time.Duration
	// MaxAttempts is how many times one POST is tried before it is dropped
	// (and a `missed` lifecycle event sent).
	MaxAttempts int
	// DeliveryTimeout is how long a receiver may take to answer (Graph: 3 s).
	DeliveryTimeout time.Duration
	// SlowAnswer is when an answer counts as slow (Graph: 2.9 s). Of an
	// endpoint's last 100 answers, 10% slow ones delay its deliveries by
	// SlowDelay; 15% drop them (each drop followed by `missed`).
	SlowAnswer time.Duration
	SlowDelay  time.Duration
	// ValidationTimeout bounds the validation handshake (Graph: 10 s).
	ValidationTimeout time.Duration
	// MaxLifetime overrides the maximum subscription lifetime (10,080 minutes,
	// 1,440 with resource data), e.g. to exercise renewal quickly.
	MaxLifetime time.Duration
	// SubscriptionPageSize is how many subscriptions one list page holds (default 100).
	SubscriptionPageSize int
	// RenewReauthorizes makes a PATCH renewal also clear a pending
	// reauthorization, as Microsoft describes; by default only POST reauthorize does.
	RenewReauthorizes bool
	// ValidationTokens issues the validationTokens of rich notifications; when
	// nil and Auth implements ValidationTokenIssuer (the emulator's identity
	// platform does), Auth is used. Without one, rich notifications carry none.
	ValidationTokens ValidationTokenIssuer
	// Faults are the failures injected from the start; SetFaults changes them.
	Faults Faults
	// Seed makes injected faults reproducible (0: random).
	Seed uint64
	// EventHub takes deliveries to EventHub: URLs (nil: such URLs are refused).
	EventHub EventHub
}

// Server is the emulated Graph service. Create it with New; it is safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	graph    http.Handler
	control  http.Handler
	delivery *deliverer

	mu            sync.Mutex
	faults        Faults
	random        *rand.Rand
	mailboxes     map[string]*mailbox // by user id
	subscriptions map[string]*Subscription
	items         map[string]*Item // by collection/id
	itemSeq       int64
	teams         []Team
	chats         []Chat

	stopJanitor chan struct{}
	janitorDone chan struct{}
	closeOnce   sync.Once
}

// New returns a running Server; call Close to stop its delivery workers.
func New(cfg Config) *Server {
	if cfg.Tenant == nil {
		cfg.Tenant = tenant.Default()
	}
	if cfg.DeliveryClient == nil {
		cfg.DeliveryClient = &http.Client{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.BatchWindow <= 0 {
		cfg.BatchWindow = DefaultBatchWindow
	}
	if cfg.MaxBatchSize <= 0 {
		cfg.MaxBatchSize = DefaultMaxBatchSize
	}
	if cfg.ConcurrentPosts <= 0 {
		cfg.ConcurrentPosts = DefaultConcurrentPosts
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.DeliveryTimeout <= 0 {
		cfg.DeliveryTimeout = DefaultDeliveryTimeout
	}
	if cfg.SlowAnswer <= 0 {
		cfg.SlowAnswer = DefaultSlowAnswer
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = DefaultSlowDelay
	}
	if cfg.ValidationTimeout <= 0 {
		cfg.ValidationTimeout = DefaultValidationTimeout
	}
	if cfg.ValidationTokens == nil {
		if issuer, ok := cfg.Auth.(ValidationTokenIssuer); ok {
			cfg.ValidationTokens = issuer
		}
	}
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	s := &Server{
		cfg:           cfg,
		log:           cfg.Logger,
		faults:        cfg.Faults.withDefaults(),
		random:        rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		mailboxes:     map[string]*mailbox{},
		subscriptions: map[string]*Subscription{},
		items:         map[string]*Item{},
		stopJanitor:   make(chan struct{}),
		janitorDone:   make(chan struct{}),
	}
	for _, u := range cfg.Tenant.Users {
		s.mailboxes[u.ID] = newMailbox(u)
	}
	s.seedItems()
	s.delivery = newDeliverer(s)
	s.graph = s.graphRoutes()
	s.control = s.controlRoutes()
	go s.janitor()
	return s
}

// GraphHandler serves /v1.0/...; it expects the full request path.
func (s *Server) GraphHandler() http.Handler { return s.graph }

// ControlHandler serves the emulator's own /_emulator/... calls (no token needed).
func (s *Server) ControlHandler() http.Handler { return s.control }

// Close stops delivery; notifications still queued are dropped.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.stopJanitor)
		<-s.janitorDone
		s.delivery.close()
	})
}

// Config returns the configuration in force, defaults filled in.
func (s *Server) Config() Config {
	return s.cfg
}

// SetFaults replaces the injected faults.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f.withDefaults()
}

// CurrentFaults returns the faults in force.
func (s *Server) CurrentFaults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

func (f Faults) withDefaults() Faults {
	if f.ThrottleStatus == 0 {
		f.ThrottleStatus = http.StatusTooManyRequests
	}
	if f.RetryAfter <= 0 {
		f.RetryAfter = Duration(time.Second)
	}
	return f
}

// chance draws from the fault generator: true with probability rate.
func (s *Server) chance(rate float64) bool {
	if rate <= 0 {
		return false
	}
	if rate >= 1 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.random.Float64() < rate
}

// janitor removes expired subscriptions, which then stop receiving notifications.
func (s *Server) janitor() {
	defer close(s.janitorDone)
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	for {
		select {
		case <-s.stopJanitor:
			return
		case <-ticker.C:
			s.removeExpired()
		}
	}
}

func (s *Server) removeExpired() {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, sub := range s.subscriptions {
		if !now.Before(sub.Expiration) {
			delete(s.subscriptions, id)
			s.log.Info("subscription expired and removed", "subscriptionId", id)
		}
	}
}

// Duration is a time.Duration that reads and writes JSON as "1.5s" (or a number of seconds).
type Duration time.Duration
