// Package static embeds the console's browser assets (vendored htmx and Pico
// CSS, the console's own stylesheet and script) into the binary.
package static

import "embed"

// FS holds every file under static/.
//
//go:embed vendor css js
var FS embed.FS
