package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// link is the absolute (or, without a public URL, path-only) link of ev.
func (n *Notifier) link(ev Event) string {
	if ev.Path == "" {
		return ""
	}
	return n.publicURL + ev.Path
}

// DefaultLinkText is the label of the link in chat messages when
// Config.LinkText is empty.
const DefaultLinkText = "Open in the console"

// payload shapes ev for the configured receiver.
func (n *Notifier) payload(ev Event) ([]byte, error) {
	link := n.link(ev)
	linkText := n.linkText
	var v any
	switch n.format {
	case FormatWeCom:
		// Group robot: {"msgtype":"markdown","markdown":{"content":...}}.
		v = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": markdown(ev, link, linkText)}}
	case FormatDingTalk:
		// Custom robot: {"msgtype":"markdown","markdown":{"title":...,"text":...}};
		// the title is what the chat list shows.
		v = map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": ev.Title, "text": markdown(ev, link, linkText)}}
	case FormatFeishu:
		// Custom bot: {"msg_type":"post","content":{"post":{"zh_cn":{"title":...,"content":[[...]]}}}}.
		var rows [][]map[string]string
		for _, l := range ev.Lines {
			rows = append(rows, []map[string]string{{"tag": "text", "text": l}})
		}
		if link != "" {
			rows = append(rows, []map[string]string{{"tag": "a", "text": linkText, "href": link}})
		}
		v = map[string]any{"msg_type": "post", "content": map[string]any{"post": map[string]any{
			"zh_cn": map[string]any{"title": ev.Title, "content": rows},
		}}}
	case FormatSlack:
		// Incoming webhook: {"text": ...} in mrkdwn, links as <url|label>.
		var b strings.Builder
		b.WriteString("*" + slackEscape(ev.Title) + "*")
		for _, l := range ev.Lines {
			b.WriteString("\n" + slackEscape(l))
		}
		if link != "" {
			b.WriteString("\n<" + link + "|" + linkText + ">")
		}
		v = map[string]string{"text": b.String()}
	default:
		v = struct {
			Event   string   `json:"event"`
			Subject string   `json:"subject"`
			Title   string   `json:"title"`
			Text    string   `json:"text"`
			Lines   []string `json:"lines"`
			URL     string   `json:"url,omitempty"`
			At      string   `json:"at"`
		}{ev.Kind, ev.Subject, ev.Title, strings.Join(append([]string{ev.Title}, ev.Lines...), "\n"), nonNil(ev.Lines), link, ev.At.UTC().Format(time.RFC3339)}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("notify: encode %s message: %w", n.format, err)
	}
	return b, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// markdown renders ev for WeCom and DingTalk. The lines hold text people
// typed (reasons, comments): characters that would make links or markup of
// them are replaced, so a reason cannot dress up as a link.
func markdown(ev Event, link, linkText string) string {
	var b strings.Builder
	b.WriteString("### " + mdEscape(ev.Title) + "\n")
	for _, l := range ev.Lines {
		b.WriteString("\n" + mdEscape(l) + "\n")
	}
	if link != "" {
		b.WriteString("\n[" + linkText + "](" + link + ")\n")
	}
	return b.String()
}

var mdReplacer = strings.NewReplacer("[", "(", "]", ")", "<", "‹", ">", "›", "`", "'", "*", "·", "_", " ", "#", "＃", "\n", " ", "\r", " ")

func mdEscape(s string) string { return mdReplacer.Replace(s) }

var slackReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\n", " ", "\r", " ")

func slackEscape(s string) string { return slackReplacer.Replace(s) }

// post sends one attempt. retry reports whether trying again may help.
func (n *Notifier) post(body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), n.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return false, errors.New("the webhook URL cannot be used") // never repeat the URL
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "devserver-console")
	resp, err := n.client.Do(req)
	if err != nil {
		return true, scrub(err, n.timeout)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout
		return retry, fmt.Errorf("the receiver answered HTTP %d%s", resp.StatusCode, excerpt(raw))
	}
	// WeCom, DingTalk and Feishu answer 200 with an error code in the body.
	var ack struct {
		ErrCode    *int   `json:"errcode"`
		ErrMsg     string `json:"errmsg"`
		Code       *int   `json:"code"`
		Msg        string `json:"msg"`
		StatusCode *int   `json:"StatusCode"`
	}
	if json.Unmarshal(raw, &ack) == nil {
		switch {
		case ack.ErrCode != nil && *ack.ErrCode != 0:
			return true, fmt.Errorf("the receiver refused the message: errcode %d: %s", *ack.ErrCode, clip(ack.ErrMsg))
		case ack.Code != nil && *ack.Code != 0:
			return true, fmt.Errorf("the receiver refused the message: code %d: %s", *ack.Code, clip(ack.Msg))
		case ack.StatusCode != nil && *ack.StatusCode != 0:
			return true, fmt.Errorf("the receiver refused the message: StatusCode %d", *ack.StatusCode)
		}
	}
	return false, nil
}

// scrub turns a transport error into words without the URL, which may hold
// the receiver's token.
func scrub(err error, timeout time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("no answer within %s", timeout)
		}
		return fmt.Errorf("could not reach the receiver: %v", scrub(ue.Err, timeout))
	}
	return err
}

func excerpt(b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return ""
	}
	return ": " + clip(s)
}

func clip(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
