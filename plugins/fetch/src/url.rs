//! Just enough URL handling for `http`/`https` GETs: parse, resolve a
//! redirect's `Location`, and name the origin. The host enforces which
//! origins may be reached; this only has to build well-formed requests.

use std::fmt;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An absolute `http(s)` URL without user info or fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: Scheme,
    /// Lowercase host; IPv6 addresses keep their brackets.
    pub host: String,
    pub port: Option<u16>,
    /// Path and query, starting with `/`, percent-encoded where needed.
    pub path_query: String,
}

impl Url {
    /// Parses an absolute `http://` or `https://` URL.
    pub fn parse(input: &str) -> Result<Url, String> {
        let input = input.trim();
        let Some((scheme, rest)) = input.split_once("://") else {
            return Err(format!(
                "{input:?} is not an absolute URL: write it as https://host/path"
            ));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            other => return Err(format!("unsupported scheme {other:?}: use http or https")),
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err("user info (user@host) is not supported in URLs".into());
        }
        let (host, port) = split_authority(authority)?;
        let tail = tail.split('#').next().unwrap_or("");
        let path_query = if tail.starts_with('/') {
            encode(tail)
        } else {
            format!("/{}", encode(tail))
        };
        Ok(Url {
            scheme,
            host,
            port,
            path_query,
        })
    }

    /// `host` or `host:port`, as sent in the request.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }

    /// `scheme://host:port`, always with the port.
    pub fn origin(&self) -> String {
        let port = self.port.unwrap_or(self.scheme.default_port());
        format!("{}://{}:{port}", self.scheme.as_str(), self.host)
    }

    /// Resolves a reference (a redirect's `Location`, a link) against this URL.
    pub fn join(&self, reference: &str) -> Result<Url, String> {
        let reference = reference.trim();
        if reference.contains("://") {
            return Url::parse(reference);
        }
        if let Some(rest) = reference.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme.as_str()));
        }
        let reference = reference.split('#').next().unwrap_or("");
        let path_query = if reference.starts_with('/') {
            reference.to_string()
        } else if reference.is_empty() {
            self.path_query.clone()
        } else if reference.starts_with('?') {
            format!("{}{reference}", self.path())
        } else {
            let path = self.path();
            let dir = &path[..=path.rfind('/').unwrap_or(0)];
            format!("{dir}{reference}")
        };
        Ok(Url {
            path_query: encode(&remove_dot_segments(&path_query)),
            ..self.clone()
        })
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.path_query
            .split('?')
            .next()
            .unwrap_or(&self.path_query)
    }
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}{}",
            self.scheme.as_str(),
            self.authority(),
            self.path_query
        )
    }
}

fn split_authority(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (ip, after) = rest
            .split_once(']')
            .ok_or("an IPv6 address needs a closing ']'")?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("unexpected {after:?} after the IPv6 address"))?,
            ),
        };
        (format!("[{}]", ip.to_ascii_lowercase()), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host.to_ascii_lowercase(), Some(port)),
            None => (authority.to_ascii_lowercase(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err("the URL has no host".into());
    }
    if let Some(bad) = host
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '[' | ']' | ':')))
    {
        return Err(format!(
            "{bad:?} is not allowed in a host name (write international names in punycode)"
        ));
    }
    let port = match port {
        None | Some("") => None,
        Some(port) => Some(
            port.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("invalid port {port:?}"))?,
        ),
    };
    Ok((host, port))
}

/// Percent-encodes what may not appear in a request target (spaces,
/// non-ASCII, quotes, ...); keeps existing `%XX` escapes.
fn encode(path_query: &str) -> String {
    let mut out = String::with_capacity(path_query.len());
    for byte in path_query.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%[]".contains(&byte);
        if keep {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// RFC 3986 section 5.2.4, on a path that may carry a query.
fn remove_dot_segments(path_query: &str) -> String {
    let (path, query) = match path_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_query, None),
    };
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let mut result = format!("/{}", out.join("/"));
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn parses() {
        let u = url("HTTPS://Example.COM:8443/a/b?x=1#frag");
        assert_eq!(u.scheme, Scheme::Https);
        assert_eq!(u.host, "example.com");
        assert_eq!(u.port, Some(8443));
        assert_eq!(u.path_query, "/a/b?x=1");
        assert_eq!(u.origin(), "https://example.com:8443");
        assert_eq!(u.to_string(), "https://example.com:8443/a/b?x=1");

        let u = url("http://[::1]:9000");
        assert_eq!(u.host, "[::1]");
        assert_eq!(u.authority(), "[::1]:9000");
        assert_eq!(u.path_query, "/");

        assert_eq!(url("http://h?q").path_query, "/?q");
        assert_eq!(url("http://h/a b/ü").path_query, "/a%20b/%C3%BC");
        assert_eq!(url("http://h/a%20b").path_query, "/a%20b");
        assert_eq!(url("https://h").origin(), "https://h:443");
    }

    #[test]
    fn rejects() {
        for bad in [
            "example.com",
            "ftp://example.com",
            "http://",
            "http://user@host/",
            "http://host:0/",
            "http://host:99999/",
            "http://[::1/",
            "http://ex ample.com/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn joins() {
        let base = url("http://a.example/b/c/d?q=1");
        for (reference, expected) in [
            ("https://other.example/x", "https://other.example/x"),
            ("//cdn.example/y", "http://cdn.example/y"),
            ("/abs", "http://a.example/abs"),
            ("rel", "http://a.example/b/c/rel"),
            ("../up?z=2", "http://a.example/b/up?z=2"),
            ("./here/", "http://a.example/b/c/here/"),
            ("?p=3", "http://a.example/b/c/d?p=3"),
            ("", "http://a.example/b/c/d?q=1"),
            ("../../../../x", "http://a.example/x"),
            ("#frag", "http://a.example/b/c/d?q=1"),
        ] {
            assert_eq!(
                base.join(reference).unwrap().to_string(),
                expected,
                "{reference}"
            );
        }
        let port = url("http://127.0.0.1:8080/a");
        assert_eq!(
            port.join("/b").unwrap().to_string(),
            "http://127.0.0.1:8080/b"
        );
    }
}
