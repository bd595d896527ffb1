//! What a static host must send to serve the SPA as the relay does, rendered as that host's configuration:
//! `location` blocks for nginx, or a `_headers` file for Netlify and Cloudflare Pages (`--print-headers`).
//!
//! Rendered from the very values the relay sends: [`SecurityHeaders`] made by the same [`Policy`] from the same
//! `index.html`, and each file's [`Caching`] as `crate::static_files` decides it. The output is for one build: the
//! policy holds the hashes of its page's inline scripts, and the immutable files are named by their content.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::security_headers::{Policy, SecurityHeaders};
use crate::static_files::{Caching, ASSET_EXTENSIONS, INDEX};

/// A kind of static host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StaticHost {
    /// `location` blocks with `add_header … always;`, to include in a `server` block.
    Nginx,
    /// A `_headers` file, read by Netlify and Cloudflare Pages.
    Netlify,
}

/// Why the headers cannot be printed.
#[derive(Debug, thiserror::Error)]
pub enum StaticHostError {
    /// No `index.html` to read the inline scripts from.
    #[error(
        "--static-dir {0} has no index.html: build the SPA into it first (cargo xtask build), then print its headers"
    )]
    NoIndex(String),
    /// The directory or a file in it could not be read.
    #[error("--static-dir {dir}: {error}")]
    Unreadable {
        /// The directory.
        dir: String,
        /// What failed.
        error: std::io::Error,
    },
}

/// One build's headers: those of every response, and the content-hashed files that may be kept forever.
#[derive(Debug)]
pub struct HostHeaders {
    /// Sent with every response.
    pub security: SecurityHeaders,
    /// URL paths (`/huddle-client-….js`) of the files that get [`Caching::Immutable`], sorted.
    pub immutable: Vec<String>,
}

impl HostHeaders {
    /// Reads `dir` (its `index.html` and the names of its files) as the relay configured by `policy` serves it.
    pub fn read(dir: &Path, policy: &Policy) -> Result<HostHeaders, StaticHostError> {
        let unreadable = |error| StaticHostError::Unreadable { dir: dir.display().to_string(), error };
        let index = match std::fs::read(dir.join(INDEX)) {
            Ok(index) => index,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StaticHostError::NoIndex(dir.display().to_string()))
            }
            Err(error) => return Err(unreadable(error)),
        };
        let mut immutable = Vec::new();
        collect_immutable(dir, &mut Vec::new(), &mut immutable).map_err(unreadable)?;
        immutable.sort();
        Ok(HostHeaders { security: policy.headers(Some(&index)), immutable })
    }

    /// The configuration of `host`; `command` is the command line that printed it, quoted in its first comment.
    pub fn render(&self, host: StaticHost, command: &str) -> String {
        match host {
            StaticHost::Nginx => self.nginx(command),
            StaticHost::Netlify => self.netlify(command),
        }
    }

    fn nginx(&self, command: &str) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "# Huddle's headers for nginx, printed by `{command}`.\n\
             # Regenerate them with every build. Include this in the `server {{ }}` block whose `root` is the\n\
             # deployed dist/. nginx drops a server's add_header lines in a location that has its own, so every\n\
             # block repeats them; `always` sends them with errors and 304s too.\n\
             \n\
             # X.gz beside X for browsers that take gzip (ngx_http_gzip_static_module, in most builds), and Vary.\n\
             gzip_static on;\n\
             gzip_vary on;\n\
             # With the ngx_brotli module loaded, X.br too:\n\
             # brotli_static on;\n\
             # The wasm must come as application/wasm: check that mime.types has `application/wasm wasm;`.\n"
        );
        let block = |out: &mut String, comment: &str, location: &str, directive: Option<&str>, caching: Caching| {
            let _ = write!(out, "\n# {comment}\nlocation {location} {{\n");
            if let Some(directive) = directive {
                let _ = writeln!(out, "    {directive}");
            }
            for (name, value) in self.headers(caching) {
                // Every value is the relay's own text: no quote, backslash or `$` (a variable to nginx) in it.
                assert!(!value.contains(['"', '\\', '$']), "{name}: {value}");
                let _ = writeln!(out, "    add_header {name} \"{value}\" always;");
            }
            out.push_str("}\n");
        };
        block(
            &mut out,
            "The page, also served for every path that names no file (below).",
            "= /index.html",
            None,
            Caching::Revalidate,
        );
        for path in &self.immutable {
            block(
                &mut out,
                "Named by its content: a new build names it anew.",
                &format!("= {path}"),
                None,
                Caching::Immutable,
            );
        }
        block(
            &mut out,
            "The compressed copies are ways of sending their file, not files of their own.",
            "~ \"\\.(br|gz)$\"",
            Some("return 404;"),
            Caching::Revalidate,
        );
        let extensions: Vec<&str> = ASSET_EXTENSIONS.iter().copied().filter(|e| !matches!(*e, "br" | "gz")).collect();
        block(
            &mut out,
            "A missing file (config.json too, which the SPA can do without) is a 404, not the page.",
            &format!("~* \"\\.({})$\"", extensions.join("|")),
            Some("try_files $uri =404;"),
            Caching::Revalidate,
        );
        block(
            &mut out,
            "Any other path is a link into the SPA (/r/<room>), which says itself when it leads nowhere.",
            "/",
            Some("try_files $uri /index.html;"),
            Caching::Revalidate,
        );
        out
    }

    fn netlify(&self, command: &str) -> String {
        let mut out = String::new();
        let _ = write!(
            out,
            "# Huddle's headers for Netlify and Cloudflare Pages, printed by `{command}`.\n\
             # Save as _headers beside index.html in the published directory; regenerate with every build.\n\
             # Room links need the page for every path: on Netlify a _redirects line `/*  /index.html  200`;\n\
             # Cloudflare Pages does it by itself when there is no 404.html.\n\
             # Both hosts join the values of a header set by several matching rules, so Cache-Control is never\n\
             # in /*; paths not listed keep the host's default, revalidated on every use like no-cache.\n\
             /*\n"
        );
        for (name, value) in self.security.iter() {
            let _ = writeln!(out, "  {}: {value}", display_name(name.as_str()));
        }
        let revalidated = ["/", "/index.html", "/config.json"];
        let rules = revalidated
            .iter()
            .map(|path| (*path, Caching::Revalidate))
            .chain(self.immutable.iter().map(|path| (path.as_str(), Caching::Immutable)));
        for (path, caching) in rules {
            let _ = write!(out, "{path}\n  Cache-Control: {}\n", caching.header_value());
        }
        out
    }

    /// Every header of a file cached as `caching`, with display names, in the relay's order after Cache-Control.
    fn headers(&self, caching: Caching) -> Vec<(String, String)> {
        let cache_control = ("Cache-Control".to_owned(), caching.header_value().to_owned());
        let security = self.security.iter().map(|(name, value)| (display_name(name.as_str()), value.to_owned()));
        std::iter::once(cache_control).chain(security).collect()
    }
}

/// `content-security-policy` → `Content-Security-Policy`: header names are case-insensitive, people read these.
fn display_name(name: &str) -> String {
    name.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Adds the URL paths of the content-hashed files under `dir/prefix` to `found` (compressed copies left out, and
/// names that would need quoting in a host's configuration, which trunk never writes).
fn collect_immutable(dir: &Path, prefix: &mut Vec<String>, found: &mut Vec<String>) -> std::io::Result<()> {
    let here: PathBuf = prefix.iter().fold(dir.to_owned(), |path, part| path.join(part));
    for entry in std::fs::read_dir(&here)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else { continue };
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
            continue;
        }
        let kind = entry.file_type()?;
        let kind = if kind.is_symlink() { std::fs::metadata(entry.path())?.file_type() } else { kind };
        if kind.is_dir() {
            prefix.push(name);
            collect_immutable(dir, prefix, found)?;
            prefix.pop();
        } else if kind.is_file()
            && !name.ends_with(".br")
            && !name.ends_with(".gz")
            && Caching::of(&name) == Caching::Immutable
        {
            found.push(prefix.iter().chain([&name]).fold(String::new(), |path, part| path + "/" + part));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_read_as_people_write_them() {
        assert_eq!(display_name("content-security-policy"), "Content-Security-Policy");
        assert_eq!(display_name("x-frame-options"), "X-Frame-Options");
    }
}
