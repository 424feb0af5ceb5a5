package emulator

import (
	"context"
	"fmt"
	"strings"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/hookctl/hookctl/internal/emulator/graphsim"
	"github.com/hookctl/hookctl/internal/exitcode"
	"github.com/hookctl/hookctl/internal/factory"
)

// PostMessageOptions are every input of `hookctl emulator post-message`.
type PostMessageOptions struct {
	Control

	// Channel is TEAM-ID/CHANNEL-ID; Chat a chat id. One of them is set.
	Channel string
	Chat    string
	From    string
	Text    string
}

// postedMessage is one line of post-message's output (type chatMessage).
type postedMessage struct {
	ID      string `json:"id"`
	Team    string `json:"team,omitempty"`
	Channel string `json:"channel,omitempty"`
	Chat    string `json:"chat,omitempty"`
	Text    string `json:"text"`
}

// NewCmdPostMessage builds `hookctl emulator post-message`; runF replaces postMessageRun in tests.
func NewCmdPostMessage(f *factory.Factory, runF func(*PostMessageOptions) error) *cobra.Command {
	opts := &PostMessageOptions{Control: newControl(f)}
	cmd := &cobra.Command{
		Use:   "post-message [--channel TEAM-ID/CHANNEL-ID | --chat CHAT-ID] --text TEXT",
		Short: "Post a Teams message in an emulated channel or chat",
		Long: heredoc.Docf(`
			Post a message in a channel or chat of a running emulator, through its control
			API (no token needed), as --from (default: the tenant's first user). Every
			subscription covering it gets a change notification; rich subscriptions get
			the message encrypted with their certificate, with validationTokens.

			Without --channel or --chat the emulator's seeded channel is used
			(%[1]s/%[2]s, team "Contoso", channel "General"); its seeded chat
			is %[3]s. The emulator is found as for %[4]shookctl emulator send-mail%[4]s.
		`, graphsim.SeedTeamID, graphsim.SeedChannelID, graphsim.SeedChatID, "`"),
		Example: heredoc.Doc(`
			  $ hookctl emulator post-message --text "Deploy finished"
			  $ hookctl emulator post-message --chat 19:adele-megan@thread.v2 --from megan@contoso.example --text hi -o json
		`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(opts.Text) == "" {
				return exitcode.Usagef("--text is required: the message to post")
			}
			if opts.Channel != "" && opts.Chat != "" {
				return exitcode.Usagef("give --channel or --chat, not both")
			}
			if opts.Channel == "" && opts.Chat == "" {
				opts.Channel = graphsim.SeedTeamID + "/" + graphsim.SeedChannelID
			}
			if team, channel, ok := strings.Cut(opts.Channel, "/"); opts.Channel != "" && (!ok || team == "" || channel == "") {
				return exitcode.Usagef("invalid --channel %q: use TEAM-ID/CHANNEL-ID", opts.Channel)
			}
			opts.EmulatorURL = emulatorURL(f, cmd, opts.EmulatorURL)
			if runF != nil {
				return runF(opts)
			}
			return postMessageRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Channel, "channel", "", "TEAM-ID/CHANNEL-ID of the channel (default: the seeded channel)")
	fl.StringVar(&opts.Chat, "chat", "", "id of the chat to post in instead of a channel")
	fl.StringVar(&opts.From, "from", "", "author: user id or user principal name (default: the tenant's first user)")
	fl.StringVar(&opts.Text, "text", "", "message text (required)")
	addEmulatorURLFlag(cmd, &opts.EmulatorURL)
	return cmd
}

func postMessageRun(ctx context.Context, o *PostMessageOptions) error {
	team, channel, _ := strings.Cut(o.Channel, "/")
	request := graphsim.MessageRequest{Team: team, Channel: channel, Chat: o.Chat, From: o.From, Text: o.Text}
	where := "channel " + o.Channel
	if o.Chat != "" {
		where = "chat " + o.Chat
	}
	return o.create(ctx, "/messages", request, "chatMessage",
		func(id string) any {
			return postedMessage{ID: id, Team: team, Channel: channel, Chat: o.Chat, Text: o.Text}
		},
		fmt.Sprintf("Posted %q in %s", o.Text, where))
}
