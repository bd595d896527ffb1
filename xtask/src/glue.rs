//! Shrinking what wasm-bindgen generates around the wasm, after trunk has built `dist/`.
//!
//! wasm-bindgen names each function the wasm imports from its JavaScript glue after the Rust item plus a 16-digit hash
//! (`__wbg_addEventListener_847fd86b8c33ec43`), and writes every name twice: in the wasm's import section and as a key
//! of the glue's import object. Random hex hardly compresses, so those names cost far more than short ones would (what
//! this step saves: docs/SIZE.md). This step renames every such import to a short name (`a`, `b`, … `ab`, …) in both
//! files, and the hashed exports the glue calls closures through (`$a`, …), minifies the glue with terser, and rewrites
//! the subresource-integrity hashes trunk put in `index.html` for the two changed files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::runner::{self, Failure, Result};
use crate::{tools, workspace};

const STEP: &str = "shrink the JavaScript glue";

/// Renames the glue's imports and minifies the glue in `dist`, and updates `index.html` to match.
pub fn shrink(dist: &Path) -> Result {
    let fail = |reason: String| Failure::new(STEP, reason);
    let wasm_path = single_file(dist, "_bg.wasm")?;
    let js_path = single_file(dist, ".js")?;
    let wasm = fs::read(&wasm_path).map_err(|error| fail(format!("cannot read {}: {error}", wasm_path.display())))?;
    let js =
        fs::read_to_string(&js_path).map_err(|error| fail(format!("cannot read {}: {error}", js_path.display())))?;

    let digests_before = [digest_of_file(&wasm_path)?, digest_of_file(&js_path)?];
    let renamed = rename(&wasm).map_err(|why| fail(format!("{}: {why}", wasm_path.display())))?;
    let mut short_js = js;
    for (old, new) in &renamed.imports {
        short_js =
            replace_identifier(&short_js, old, new).map_err(|why| fail(format!("{}: {why}", js_path.display())))?;
    }
    for (old, new) in &renamed.exports {
        short_js = replace_export(&short_js, old, new).map_err(|why| fail(format!("{}: {why}", js_path.display())))?;
    }
    let write = |path: &Path, bytes: &[u8]| {
        fs::write(path, bytes).map_err(|error| fail(format!("cannot write {}: {error}", path.display())))
    };
    write(&wasm_path, &renamed.wasm)?;
    write(&js_path, short_js.as_bytes())?;
    minify(&js_path)?;

    let html_path = dist.join("index.html");
    let mut html = fs::read_to_string(&html_path)
        .map_err(|error| fail(format!("cannot read {}: {error}", html_path.display())))?;
    for (path, before) in [&wasm_path, &js_path].into_iter().zip(digests_before) {
        let old = sri_sha384(&before);
        let new = sri_sha384(&digest_of_file(path)?);
        html = match html.matches(&old).count() {
            // No integrity attribute for this file: nothing to update.
            0 => html,
            1 => html.replace(&old, &new),
            _ => return Err(fail(format!("{} names the hash of {} twice", html_path.display(), path.display()))),
        };
    }
    write(&html_path, html.as_bytes())?;
    println!(
        "renamed {} imports and {} exports of the wasm and minified {}",
        renamed.imports.len(),
        renamed.exports.len(),
        js_path.display()
    );
    Ok(())
}

/// The one file in `dist` whose name ends with `suffix` (trunk writes one wasm and one glue).
fn single_file(dist: &Path, suffix: &str) -> Result<PathBuf> {
    let entries =
        fs::read_dir(dist).map_err(|error| Failure::new(STEP, format!("cannot list {}: {error}", dist.display())))?;
    let found: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().ends_with(suffix)))
        .collect();
    match <[PathBuf; 1]>::try_from(found) {
        Ok([path]) => Ok(path),
        Err(found) => {
            Err(Failure::new(STEP, format!("expected one *{suffix} in {}, found {}", dist.display(), found.len())))
        }
    }
}

/// Minifies the glue in place with terser (an ES module: its exports keep their names).
fn minify(js_path: &Path) -> Result {
    let minified = js_path.with_extension("min.tmp");
    runner::run(
        STEP,
        tools::command("terser").arg(js_path).args(["--module", "--compress", "--mangle", "--output"]).arg(&minified),
    )?;
    fs::rename(&minified, js_path).map_err(|error| {
        Failure::new(STEP, format!("cannot move {} to {}: {error}", minified.display(), js_path.display()))
    })
}

/// The SHA-384 digest of `path`, by coreutils' `sha384sum` (xtask has no dependencies).
fn digest_of_file(path: &Path) -> Result<Vec<u8>> {
    let output = workspace::command("sha384sum")
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| Failure::new(STEP, format!("cannot run sha384sum: {error}")))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let hex = text.split_whitespace().next().filter(|_| output.status.success()).unwrap_or_default();
    from_hex(hex).ok_or_else(|| Failure::new(STEP, format!("sha384sum {} printed no digest", path.display())))
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() {
        return None;
    }
    let byte = |pair: &[u8]| {
        let pair = std::str::from_utf8(pair).ok().filter(|pair| pair.len() == 2)?;
        u8::from_str_radix(pair, 16).ok()
    };
    hex.as_bytes().chunks(2).map(byte).collect()
}

/// How `integrity` attributes spell a SHA-384 digest: `sha384-` and the digest in standard base64.
fn sri_sha384(digest: &[u8]) -> String {
    format!("sha384-{}", base64(digest))
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let triple = chunk.iter().enumerate().fold(0u32, |acc, (i, &byte)| acc | u32::from(byte) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(triple >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `index`th short name: `a` … `z`, `A` … `Z`, then two letters, and so on (valid JavaScript identifiers).
fn short_name(mut index: usize) -> String {
    const LETTERS: &[u8; 52] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut name = String::new();
    loop {
        name.push(char::from(LETTERS[index % LETTERS.len()]));
        index /= LETTERS.len();
        if index == 0 {
            return name;
        }
        index -= 1;
    }
}

/// Whether wasm-bindgen generated this import's name (its glue functions and intrinsics).
fn is_generated(name: &str) -> bool {
    name.starts_with("__wbg_") || name.starts_with("__wbindgen_")
}

/// Whether this export is one of the entry points wasm-bindgen gives closures, named after their Rust path with
/// hashes in it; the glue calls them as `wasm.<name>`. Built with the prebuilt standard library they read
/// `wasm_bindgen__convert__closures_____invoke__h4dc729480453fea4`; `cargo xtask build`'s own (`spa.rs`) names them
/// `wasm_bindgen_48e39f4881f0e564___convert__closures_____invoke___web_sys_86a775ecac9936bf___features__…`, up to
/// 334 characters.
fn is_hashed_export(name: &str) -> bool {
    name.starts_with("wasm_bindgen") && name.contains("__convert__closures")
}

/// The short name of the `index`th renamed export: `$` and a short name, which no export of wasm-bindgen's has.
fn short_export_name(index: usize) -> String {
    format!("${}", short_name(index))
}

/// Names, each before and after.
type Renames = Vec<(String, String)>;

/// A module with short names, and what was renamed.
#[derive(Debug, PartialEq)]
struct Renamed {
    wasm: Vec<u8>,
    imports: Renames,
    exports: Renames,
}

/// `wasm` with every import wasm-bindgen named and every export it named with a hash renamed to a short name,
/// and the renames (old, new) in order. Other sections are copied byte for byte.
fn rename(wasm: &[u8]) -> std::result::Result<Renamed, String> {
    const IMPORT_SECTION: u8 = 2;
    const EXPORT_SECTION: u8 = 7;
    if wasm.get(..8) != Some(b"\0asm\x01\0\0\0".as_slice()) {
        return Err("not a wasm module".into());
    }
    let mut renamed = Renamed { wasm: wasm[..8].to_vec(), imports: Vec::new(), exports: Vec::new() };
    let mut reader = Reader { bytes: wasm, at: 8 };
    while reader.at < wasm.len() {
        let start = reader.at;
        let id = reader.byte()?;
        let size = reader.leb()? as usize;
        let body = reader.take(size)?;
        let import = match id {
            IMPORT_SECTION => true,
            EXPORT_SECTION => false,
            _ => {
                renamed.wasm.extend_from_slice(&wasm[start..reader.at]);
                continue;
            }
        };
        let mut entries = Reader { bytes: body, at: 0 };
        let count = entries.leb()?;
        let mut section = Vec::new();
        write_leb(&mut section, count);
        for _ in 0..count {
            // An import has a module name before its name; an export only its name.
            if import {
                write_name(&mut section, entries.name()?);
            }
            let name = entries.name()?;
            let descriptor_start = entries.at;
            if import {
                entries.skip_import_descriptor()?;
            } else {
                entries.skip_export_descriptor()?;
            }
            let name = if import && is_generated(name) {
                let new = short_name(renamed.imports.len());
                renamed.imports.push((name.to_owned(), new.clone()));
                new
            } else if !import && is_hashed_export(name) {
                let new = short_export_name(renamed.exports.len());
                renamed.exports.push((name.to_owned(), new.clone()));
                new
            } else {
                name.to_owned()
            };
            write_name(&mut section, &name);
            section.extend_from_slice(&body[descriptor_start..entries.at]);
        }
        if entries.at != body.len() {
            return Err(format!("section {id} has bytes after its last entry"));
        }
        renamed.wasm.push(id);
        write_leb(&mut renamed.wasm, section.len() as u64);
        renamed.wasm.extend_from_slice(&section);
    }
    Ok(renamed)
}

/// Reads a wasm module's primitives.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> std::result::Result<u8, String> {
        let byte = *self.bytes.get(self.at).ok_or("the module ends early")?;
        self.at += 1;
        Ok(byte)
    }

    fn take(&mut self, len: usize) -> std::result::Result<&'a [u8], String> {
        let taken = self.bytes.get(self.at..self.at + len).ok_or("the module ends early")?;
        self.at += len;
        Ok(taken)
    }

    /// An unsigned LEB128 number.
    fn leb(&mut self) -> std::result::Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a number is too long".into())
    }

    fn name(&mut self) -> std::result::Result<&'a str, String> {
        let len = self.leb()? as usize;
        std::str::from_utf8(self.take(len)?).map_err(|_| "a name is not UTF-8".into())
    }

    /// Limits: a flags byte, the minimum and, if flagged, the maximum.
    fn skip_limits(&mut self) -> std::result::Result<(), String> {
        let flags = self.byte()?;
        self.leb()?;
        if flags & 1 != 0 {
            self.leb()?;
        }
        Ok(())
    }

    /// What is exported: a kind byte and an index.
    fn skip_export_descriptor(&mut self) -> std::result::Result<(), String> {
        self.byte()?;
        self.leb().map(drop)
    }

    /// What is imported: a function, table, memory, global or tag, with its type.
    fn skip_import_descriptor(&mut self) -> std::result::Result<(), String> {
        match self.byte()? {
            // Function or tag: (a tag's attribute byte, then) a type index.
            0x00 => self.leb().map(drop),
            0x04 => self.byte().and_then(|_| self.leb()).map(drop),
            // Table: a one-byte reference type, then limits.
            0x01 => match self.byte()? {
                0x6f | 0x70 => self.skip_limits(),
                other => Err(format!("unexpected table element type 0x{other:02x}")),
            },
            0x02 => self.skip_limits(),
            // Global: a one-byte value type and mutability.
            0x03 => self.take(2).map(drop),
            other => Err(format!("unexpected import kind 0x{other:02x}")),
        }
    }
}

fn write_leb(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn write_name(out: &mut Vec<u8>, name: &str) {
    write_leb(out, name.len() as u64);
    out.extend_from_slice(name.as_bytes());
}

/// Whether `c` may continue a JavaScript identifier (of the ASCII names wasm-bindgen writes).
fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '$'
}

/// `js` with the one occurrence of the identifier `old` replaced by `new`; an error unless it occurs exactly once
/// (as a whole identifier, not part of a longer one).
fn replace_identifier(js: &str, old: &str, new: &str) -> std::result::Result<String, String> {
    let whole = |&(at, _): &(usize, &str)| {
        !js[..at].ends_with(is_identifier_char) && !js[at + old.len()..].starts_with(is_identifier_char)
    };
    let found: Vec<usize> = js.match_indices(old).filter(whole).map(|(at, _)| at).collect();
    match found.as_slice() {
        [at] => Ok(format!("{}{new}{}", &js[..*at], &js[at + old.len()..])),
        _ => Err(format!("the import `{old}` occurs {} times instead of once", found.len())),
    }
}

/// `js` with every call through the module object, `wasm.<old>`, made to `wasm.<new>`; an error if there is none.
fn replace_export(js: &str, old: &str, new: &str) -> std::result::Result<String, String> {
    let member = format!("wasm.{old}");
    let mut out = String::with_capacity(js.len());
    let mut rest = js;
    let mut found = 0;
    while let Some(at) = rest.find(&member) {
        let after = &rest[at + member.len()..];
        let whole = !rest[..at].ends_with(is_identifier_char) && !after.starts_with(is_identifier_char);
        out.push_str(&rest[..at]);
        if whole {
            out.push_str("wasm.");
            out.push_str(new);
            found += 1;
        } else {
            out.push_str(&member);
        }
        rest = after;
    }
    out.push_str(rest);
    if found == 0 {
        return Err(format!("the glue never calls the export `{old}`"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module importing `imports` from `module` as functions of type 0 and exporting `exports` (function 0),
    /// followed by a custom section.
    fn module(module: &str, imports: &[&str], exports: &[&str]) -> Vec<u8> {
        let mut import_section = Vec::new();
        write_leb(&mut import_section, imports.len() as u64 + 1);
        for name in imports {
            write_name(&mut import_section, module);
            write_name(&mut import_section, name);
            import_section.extend_from_slice(&[0x00, 0x00]);
        }
        // A memory with limits 1..=2, whose name must stay.
        write_name(&mut import_section, "env");
        write_name(&mut import_section, "memory");
        import_section.extend_from_slice(&[0x02, 0x01, 0x01, 0x02]);
        let mut export_section = Vec::new();
        write_leb(&mut export_section, exports.len() as u64);
        for name in exports {
            write_name(&mut export_section, name);
            export_section.extend_from_slice(&[0x00, 0x00]);
        }
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        // A type section: one function type () -> ().
        wasm.extend_from_slice(&[0x01, 0x04, 0x01, 0x60, 0x00, 0x00]);
        for (id, section) in [(0x02, import_section), (0x07, export_section)] {
            wasm.push(id);
            write_leb(&mut wasm, section.len() as u64);
            wasm.extend_from_slice(&section);
        }
        wasm.extend_from_slice(&[0x00, 0x04, 0x03, b'a', b'b', b'c']);
        wasm
    }

    #[test]
    fn generated_names_get_short_ones_and_the_rest_of_the_module_stays() {
        let imports = ["__wbg_body_5f971cbc6950ca4f", "__wbindgen_init_externref_table"];
        let exports = [
            "__wbindgen_malloc",
            "wasm_bindgen__convert__closures_____invoke__h4dc729480453fea4",
            "wasm_bindgen_48e39f4881f0e564___convert__closures_____invoke_______true_",
        ];
        let renamed = rename(&module("./app_bg.js", &imports, &exports)).unwrap();
        assert_eq!(renamed.wasm, module("./app_bg.js", &["a", "b"], &["__wbindgen_malloc", "$a", "$b"]));
        let imports_renamed = [(imports[0].to_owned(), "a".to_owned()), (imports[1].to_owned(), "b".to_owned())];
        assert_eq!(renamed.imports, imports_renamed);
        let exports_renamed = [(exports[1].to_owned(), "$a".to_owned()), (exports[2].to_owned(), "$b".to_owned())];
        assert_eq!(renamed.exports, exports_renamed);
    }

    #[test]
    fn a_module_whose_names_are_already_short_is_left_as_it_is() {
        let wasm = module("./app_bg.js", &["a", "b"], &["$a"]);
        assert_eq!(rename(&wasm).unwrap(), Renamed { wasm, imports: Vec::new(), exports: Vec::new() });
    }

    #[test]
    fn a_truncated_module_is_refused() {
        let wasm = module("./app_bg.js", &["__wbg_body_5f971cbc6950ca4f"], &[]);
        assert!(rename(&wasm[..wasm.len() - 10]).is_err());
        assert!(rename(b"not wasm").is_err());
    }

    #[test]
    fn calls_to_an_export_are_renamed_and_nothing_else() {
        let js = "function f_h1(a) { wasm.f_h1(a); wasm.f_h12(a); } g(f_h1);";
        assert_eq!(
            replace_export(js, "f_h1", "$a").unwrap(),
            "function f_h1(a) { wasm.$a(a); wasm.f_h12(a); } g(f_h1);"
        );
        assert!(replace_export(js, "f_h2", "$a").is_err());
    }

    #[test]
    fn short_names_are_distinct_identifiers() {
        let names: Vec<String> = (0..52 * 53 + 5).map(short_name).collect();
        assert_eq!((&names[0][..], &names[25][..], &names[26][..], &names[51][..]), ("a", "z", "A", "Z"));
        assert_eq!((&names[52][..], &names[53][..]), ("aa", "ba"));
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert!(names.iter().all(|name| name.chars().all(|c| c.is_ascii_alphabetic())));
    }

    #[test]
    fn an_identifier_is_replaced_only_when_it_occurs_once_as_a_whole() {
        let js = "{ __wbg_x_1: function() {}, __wbg_x_12: function() {} }";
        assert_eq!(
            replace_identifier(js, "__wbg_x_1", "a").unwrap(),
            "{ a: function() {}, __wbg_x_12: function() {} }"
        );
        assert!(replace_identifier(js, "__wbg_y", "a").is_err());
        assert!(replace_identifier("f(__wbg_z); g(__wbg_z)", "__wbg_z", "a").is_err());
    }

    #[test]
    fn digests_are_written_as_integrity_attributes_spell_them() {
        // SHA-384 of "abc" (FIPS 180-2), as browsers expect it in `integrity`.
        let digest = from_hex(
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
        )
        .unwrap();
        assert_eq!(sri_sha384(&digest), "sha384-ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(from_hex("0g"), None);
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex(""), None);
    }

    #[test]
    fn sha384sum_digests_what_it_is_given() {
        let path = std::env::temp_dir().join(format!("huddle-xtask-digest-{}", std::process::id()));
        fs::write(&path, b"abc").unwrap();
        let digest = digest_of_file(&path);
        fs::remove_file(&path).unwrap();
        assert_eq!(base64(&digest.unwrap()), "ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn");
    }
}
