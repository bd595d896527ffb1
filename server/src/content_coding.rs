//! Choosing a precompressed copy by `Accept-Encoding` (RFC 9110, section 12.5.3): which content codings a browser
//! takes, best first. `cargo xtask build` writes `X.br` and `X.gz` beside each file `X` of `dist/`.

use warp::http::header::{HeaderMap, ACCEPT_ENCODING};

/// A way a file can be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coding {
    /// Brotli: the smallest, `X.br`.
    Brotli,
    /// Gzip, `X.gz`.
    Gzip,
    /// The file as it is.
    Identity,
}

impl Coding {
    /// The suffix of its copy beside the file (`app.wasm` → `app.wasm.br`); empty for the file itself.
    pub fn suffix(self) -> &'static str {
        match self {
            Coding::Brotli => ".br",
            Coding::Gzip => ".gz",
            Coding::Identity => "",
        }
    }

    /// Its `Content-Encoding`, none for the file itself.
    pub fn content_encoding(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
}

/// The codings to try, best first, ending with [`Coding::Identity`]: a browser's higher q-value wins, brotli beats
/// gzip at an equal one (it is smaller), and a compressed copy beats the plain file unless `identity` is ranked
/// above it. `q=0` refuses a coding, `*` stands for every coding not named. Without the header, or when every
/// coding is refused, only the plain file is offered: a client that says nothing may not be able to decompress
/// (RFC 9110 would allow any coding then), and one that refuses even `identity` gets it anyway, which RFC 9110
/// allows rather than a 415 nobody could act on.
pub fn preferred(request: &HeaderMap) -> Vec<Coding> {
    let mut named: Vec<(String, u16)> = Vec::new();
    let mut present = false;
    for value in request.get_all(ACCEPT_ENCODING) {
        present = true;
        let Ok(value) = value.to_str() else { continue };
        named.extend(value.split(',').filter_map(parse_item));
    }
    if !present {
        return vec![Coding::Identity];
    }
    let star = named.iter().find(|(coding, _)| coding == "*").map(|&(_, q)| q);
    let weight = |names: &[&str]| named.iter().find(|(coding, _)| names.contains(&coding.as_str())).map(|&(_, q)| q);
    // Unnamed, identity is acceptable but last (RFC 9110: it is always acceptable unless refused).
    let ranked = [
        (Coding::Brotli, weight(&["br"]).or(star).unwrap_or(0)),
        (Coding::Gzip, weight(&["gzip", "x-gzip"]).or(star).unwrap_or(0)),
        (Coding::Identity, weight(&["identity"]).or(star).unwrap_or(1)),
    ];
    let mut acceptable: Vec<(Coding, u16)> = ranked.into_iter().filter(|&(_, q)| q > 0).collect();
    // Highest q first; at equal q, the order above (the sort is stable).
    acceptable.sort_by_key(|&(_, q)| std::cmp::Reverse(q));
    let mut codings: Vec<Coding> = acceptable.into_iter().map(|(coding, _)| coding).collect();
    if !codings.contains(&Coding::Identity) {
        codings.push(Coding::Identity);
    }
    codings
}

/// One `coding;q=0.5` item, its name lowercased and its q-value in thousandths; `None` for an empty or malformed
/// one, which is then ignored.
fn parse_item(item: &str) -> Option<(String, u16)> {
    let mut parts = item.split(';');
    let coding = parts.next()?.trim().to_ascii_lowercase();
    if coding.is_empty() {
        return None;
    }
    let mut q = 1000;
    for parameter in parts {
        let (name, value) = parameter.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("q") {
            q = parse_qvalue(value.trim())?;
        }
    }
    Some((coding, q))
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Coding::{Brotli, Gzip, Identity};
    use super::*;

    fn preferred_for(values: &[&str]) -> Vec<Coding> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(ACCEPT_ENCODING, value.parse().unwrap());
        }
        preferred(&headers)
    }

    #[test]
    fn brotli_first_then_gzip_then_the_file() {
        assert_eq!(preferred_for(&["gzip, deflate, br, zstd"]), [Brotli, Gzip, Identity], "what Chromium sends");
        assert_eq!(preferred_for(&["gzip"]), [Gzip, Identity]);
        assert_eq!(preferred_for(&["BR"]), [Brotli, Identity]);
        assert_eq!(preferred_for(&["x-gzip"]), [Gzip, Identity]);
        assert_eq!(preferred_for(&["gzip", "br"]), [Brotli, Gzip, Identity], "several header lines");
    }

    #[test]
    fn q_values_rank_and_zero_refuses() {
        assert_eq!(preferred_for(&["br;q=0.5, gzip;q=0.8"]), [Gzip, Brotli, Identity]);
        assert_eq!(preferred_for(&["br;q=0, gzip"]), [Gzip, Identity]);
        assert_eq!(preferred_for(&["br ; Q=0.000, gzip;q=1.0"]), [Gzip, Identity]);
        assert_eq!(preferred_for(&["gzip;q=0.5, identity"]), [Identity, Gzip], "identity named above gzip");
        assert_eq!(preferred_for(&["gzip;q=0.5"]), [Gzip, Identity], "unnamed identity comes last");
        assert_eq!(preferred_for(&["br;q=0.5, gzip;q=0.5"]), [Brotli, Gzip, Identity]);
    }

    #[test]
    fn star_stands_for_the_codings_not_named() {
        assert_eq!(preferred_for(&["*"]), [Brotli, Gzip, Identity]);
        assert_eq!(preferred_for(&["br;q=0, *"]), [Gzip, Identity]);
        assert_eq!(preferred_for(&["*;q=0, gzip"]), [Gzip, Identity], "identity refused by *, sent as the last resort");
    }

    #[test]
    fn no_header_identity_or_nonsense_mean_the_plain_file() {
        assert_eq!(preferred_for(&[]), [Identity]);
        assert_eq!(preferred_for(&[""]), [Identity]);
        assert_eq!(preferred_for(&["identity"]), [Identity]);
        assert_eq!(preferred_for(&["br;q=2, gzip;q=0.5.1, zstd"]), [Identity], "malformed q-values are ignored");
        assert_eq!(preferred_for(&["br;q=1.001"]), [Identity]);
    }

    #[test]
    fn q_values_parse_as_rfc_9110_spells_them() {
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("0.5"), Some(500));
        assert_eq!(parse_qvalue("0.05"), Some(50));
        assert_eq!(parse_qvalue("0."), Some(0));
        assert_eq!(parse_qvalue(".5"), None);
        assert_eq!(parse_qvalue("0.5000"), None);
        assert_eq!(parse_qvalue("-0"), None);
    }
}
