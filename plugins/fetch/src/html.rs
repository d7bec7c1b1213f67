//! A small, forgiving HTML to markdown-ish text converter: headings, links,
//! lists, emphasis, code and paragraphs survive; scripts, styles and the rest
//! of the markup are dropped. Not a full HTML parser, and it need not be: the
//! output is for reading.

use crate::url::Url;

/// Converts an HTML document to markdown-ish text. Relative links are
/// resolved against `base` when given.
pub fn to_markdown(html: &str, base: Option<&Url>) -> String {
    let mut out = Writer::default();
    let lower = html.to_ascii_lowercase();
    let has_h1 = lower.contains("<h1");
    let mut links: Vec<Option<String>> = Vec::new();
    let mut title: Option<String> = None;
    let mut pos = 0;

    while pos < html.len() {
        let Some(offset) = html[pos..].find('<') else {
            out.text(&decode_entities(&html[pos..]));
            break;
        };
        if offset > 0 {
            out.text(&decode_entities(&html[pos..pos + offset]));
        }
        pos += offset;
        // Comments, doctypes, CDATA.
        if lower[pos..].starts_with("<!--") {
            pos = lower[pos..]
                .find("-->")
                .map_or(html.len(), |end| pos + end + 3);
            continue;
        }
        if lower[pos..].starts_with("<!") || lower[pos..].starts_with("<?") {
            pos = html[pos..]
                .find('>')
                .map_or(html.len(), |end| pos + end + 1);
            continue;
        }
        let Some(tag) = Tag::parse(&html[pos..]) else {
            // A lone '<' is text.
            out.text("<");
            pos += 1;
            continue;
        };
        pos += tag.len;
        if !tag.closing
            && matches!(
                tag.name.as_str(),
                "script" | "style" | "noscript" | "template" | "svg" | "iframe"
            )
        {
            // Skip the element's content entirely.
            let close = format!("</{}", tag.name);
            pos = lower[pos..].find(&close).map_or(html.len(), |end| {
                let after = pos + end;
                html[after..]
                    .find('>')
                    .map_or(html.len(), |gt| after + gt + 1)
            });
            continue;
        }
        if !tag.closing && tag.name == "title" {
            let end = lower[pos..].find("</title").map_or(html.len(), |e| pos + e);
            title = Some(collapse(&decode_entities(&html[pos..end])));
            pos = html[end..].find('>').map_or(html.len(), |gt| end + gt + 1);
            continue;
        }
        match (tag.name.as_str(), tag.closing) {
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", false) => {
                let level = usize::from(tag.name.as_bytes()[1] - b'0');
                out.block();
                out.raw(&"#".repeat(level));
                out.raw(" ");
            }
            ("h1" | "h2" | "h3" | "h4" | "h5" | "h6", true) => out.block(),
            (
                "p" | "div" | "section" | "article" | "header" | "footer" | "main" | "nav"
                | "aside" | "table" | "form" | "figure" | "dl" | "blockquote" | "ul" | "ol",
                _,
            ) => out.block(),
            ("tr" | "dt" | "dd" | "figcaption" | "caption", _) => out.line(),
            ("br", _) => out.line(),
            ("hr", false) => {
                out.block();
                out.raw("---");
                out.block();
            }
            ("li", false) => {
                out.line();
                out.raw("- ");
            }
            ("td" | "th", false) => out.text(" "),
            ("pre", false) => {
                out.block();
                out.raw("```\n");
                out.pre += 1;
            }
            ("pre", true) => {
                out.pre = out.pre.saturating_sub(1);
                out.line();
                out.raw("```");
                out.block();
            }
            ("code" | "kbd" | "samp", _) if out.pre == 0 => out.inline("`"),
            ("strong" | "b", _) => out.inline("**"),
            ("em" | "i", _) => out.inline("*"),
            ("a", false) => {
                let href = tag
                    .attr("href")
                    .filter(|h| {
                        !h.is_empty() && !h.starts_with('#') && !h.starts_with("javascript:")
                    })
                    .map(|h| match base.map(|b| b.join(&h)) {
                        Some(Ok(url)) => url.to_string(),
                        _ => h,
                    });
                if href.is_some() {
                    out.inline("[");
                }
                links.push(href);
            }
            ("a", true) => {
                if let Some(Some(href)) = links.pop() {
                    out.raw(&format!("]({href})"));
                }
            }
            ("img", false) => {
                if let Some(alt) = tag.attr("alt").filter(|a| !a.trim().is_empty()) {
                    out.text(&format!("[image: {}]", alt.trim()));
                }
            }
            _ => {}
        }
    }

    let body = out.finish();
    match title {
        Some(title) if !has_h1 && !title.is_empty() => {
            format!("# {title}\n\n{body}").trim_end().to_string()
        }
        _ => body,
    }
}

/// Builds the output, collapsing whitespace outside `<pre>`.
#[derive(Default)]
struct Writer {
    out: String,
    /// Inside this many `<pre>` elements.
    pre: u32,
    /// A space is owed before the next word.
    space: bool,
}

impl Writer {
    fn text(&mut self, text: &str) {
        if self.pre > 0 {
            self.out.push_str(text);
            return;
        }
        for (i, word) in text
            .split(|c: char| c.is_whitespace() && c != '\u{a0}')
            .enumerate()
        {
            if i > 0 {
                self.space = true;
            }
            if word.is_empty() {
                continue;
            }
            if self.space && !self.out.is_empty() && !self.out.ends_with(['\n', ' ']) {
                self.out.push(' ');
            }
            self.space = false;
            self.out.push_str(&word.replace('\u{a0}', " "));
        }
    }

    /// Markup such as `**` that attaches to the following word.
    fn inline(&mut self, markup: &str) {
        if self.space && !self.out.is_empty() && !self.out.ends_with(['\n', ' ', '[', '(']) {
            self.out.push(' ');
        }
        self.space = false;
        self.out.push_str(markup);
    }

    fn raw(&mut self, text: &str) {
        self.space = false;
        self.out.push_str(text);
    }

    /// Ends the current line.
    fn line(&mut self) {
        self.space = false;
        trim_spaces(&mut self.out);
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    /// Ends the current paragraph: one blank line.
    fn block(&mut self) {
        self.line();
        if !self.out.is_empty() && !self.out.ends_with("\n\n") {
            self.out.push('\n');
        }
    }

    fn finish(mut self) -> String {
        trim_spaces(&mut self.out);
        // At most one blank line in a row.
        let mut result = String::with_capacity(self.out.len());
        let mut newlines = 0;
        for c in self.out.chars() {
            if c == '\n' {
                newlines += 1;
                if newlines > 2 {
                    continue;
                }
            } else {
                newlines = 0;
            }
            result.push(c);
        }
        result.trim().to_string()
    }
}

fn trim_spaces(s: &mut String) {
    while s.ends_with(' ') {
        s.pop();
    }
}

/// Collapses whitespace runs to single spaces.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One start or end tag.
struct Tag {
    name: String,
    closing: bool,
    /// The raw attribute text.
    attrs: String,
    /// Bytes from `<` to `>` inclusive.
    len: usize,
}

impl Tag {
    fn parse(s: &str) -> Option<Tag> {
        let rest = s.strip_prefix('<')?;
        let (closing, rest) = match rest.strip_prefix('/') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        if name_len == 0 || !rest.as_bytes()[0].is_ascii_alphabetic() {
            return None;
        }
        let name = rest[..name_len].to_ascii_lowercase();
        // Find the closing '>' outside quoted attribute values.
        let mut quote = None;
        let mut end = None;
        for (i, c) in rest[name_len..].char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => {
                    end = Some(name_len + i);
                    break;
                }
                _ => {}
            }
        }
        let end = end?;
        let prefix = s.len() - rest.len();
        Some(Tag {
            name,
            closing,
            attrs: rest[name_len..end].to_string(),
            len: prefix + end + 1,
        })
    }

    /// The value of an attribute, entity-decoded.
    fn attr(&self, name: &str) -> Option<String> {
        let lower = self.attrs.to_ascii_lowercase();
        let mut search = 0;
        while let Some(found) = lower[search..].find(name) {
            let start = search + found;
            search = start + name.len();
            let before_ok = start == 0 || lower.as_bytes()[start - 1].is_ascii_whitespace();
            let after = lower[search..].trim_start();
            if !before_ok || !after.starts_with('=') {
                continue;
            }
            let value_start = self.attrs.len() - after.len() + 1;
            let value = self.attrs[value_start..].trim_start();
            let value = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
                _ => value
                    .split(|c: char| c.is_whitespace() || c == '/')
                    .next()
                    .unwrap_or(""),
            };
            return Some(decode_entities(value));
        }
        None
    }
}

/// Decodes character references: numeric ones and the common named ones.
pub fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let end = rest[1..].find(';').map(|e| e + 1).filter(|e| *e <= 12);
        let decoded = end.and_then(|end| {
            let entity = &rest[1..end];
            let c = if let Some(num) = entity.strip_prefix('#') {
                let code = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                };
                code.and_then(char::from_u32)
            } else {
                named_entity(entity)
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "mdash" => '—',
        "ndash" => '–',
        "hellip" => '…',
        "copy" => '©',
        "reg" => '®',
        "trade" => '™',
        "lsquo" => '‘',
        "rsquo" => '’',
        "ldquo" => '“',
        "rdquo" => '”',
        "laquo" => '«',
        "raquo" => '»',
        "middot" => '·',
        "bull" => '•',
        "deg" => '°',
        "euro" => '€',
        "times" => '×',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_a_page() {
        let html = r#"<!DOCTYPE html>
<html><head><title>Ignored &amp; title</title>
<style>body { color: red }</style><script>alert("<p>no</p>")</script></head>
<body>
  <h1>Hello,   <em>world</em></h1>
  <!-- a comment -->
  <p>Some <b>bold</b> text with a <a href="/docs?page=1">link</a>
     and a <a href='#top'>fragment</a>.</p>
  <ul><li>one</li><li>two &lt;3</li></ul>
  <pre>let x = 1;
  let y = 2;</pre>
  <p>Inline <code>code</code>&nbsp;here<br>next line</p>
  <img src="a.png" alt="A cat">
</body></html>"#;
        let base = Url::parse("https://example.com/guide/").unwrap();
        let md = to_markdown(html, Some(&base));
        assert_eq!(
            md,
            "# Hello, *world*\n\n\
             Some **bold** text with a [link](https://example.com/docs?page=1) and a fragment.\n\n\
             - one\n\
             - two <3\n\n\
             ```\nlet x = 1;\n  let y = 2;\n```\n\n\
             Inline `code` here\nnext line\n\n\
             [image: A cat]"
        );
    }

    #[test]
    fn title_is_used_without_h1() {
        let md = to_markdown(
            "<html><head><title> The  Title </title></head><body><p>x</p></body></html>",
            None,
        );
        assert_eq!(md, "# The Title\n\nx");
    }

    #[test]
    fn forgiving() {
        assert_eq!(to_markdown("a < b and c > d", None), "a < b and c > d");
        assert_eq!(to_markdown("<p>unclosed <b>bold", None), "unclosed **bold");
        assert_eq!(to_markdown("<script>never closed", None), "");
        assert_eq!(
            to_markdown("x &unknown; &#65;&#x42; &amp", None),
            "x &unknown; AB &amp"
        );
    }

    #[test]
    fn attributes() {
        let tag = Tag::parse(r#"<a class="x" data-href="no" HREF = 'yes&amp;1' >"#).unwrap();
        assert_eq!(tag.attr("href").as_deref(), Some("yes&1"));
        let tag = Tag::parse("<a href=plain>").unwrap();
        assert_eq!(tag.attr("href").as_deref(), Some("plain"));
        assert!(Tag::parse("<a href='>'").is_none());
    }
}
